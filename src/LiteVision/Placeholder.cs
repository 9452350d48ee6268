namespace LiteVision;
