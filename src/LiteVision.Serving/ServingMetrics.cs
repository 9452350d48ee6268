using Prometheus;

namespace LiteVision.Serving;

/// <summary>The server's Prometheus metrics, in a registry of its own (so two servers in one process do not mix).</summary>
internal sealed class ServingMetrics
{
    public ServingMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        // The process's resident memory, CPU time and .NET GC heap and collections, next to the server's own metrics.
        DotNetStats.Register(Registry);
        MetricFactory factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("litevision_requests_total", "Requests by model, endpoint and HTTP status.",
            new CounterConfiguration { LabelNames = ["model", "endpoint", "status"] });
        Latency = factory.CreateHistogram("litevision_request_duration_seconds", "Latency of infer and classify requests.",
            new HistogramConfiguration { LabelNames = ["model", "endpoint"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        BatchSize = factory.CreateHistogram("litevision_batch_size", "Images per ONNX Runtime run (dynamic batching).",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = [1, 2, 4, 8, 16, 32, 64, 128] });
        QueueDepth = factory.CreateGauge("litevision_queue_depth", "Requests waiting for a batch.", new GaugeConfiguration { LabelNames = ["model"] });
        Inferences = factory.CreateCounter("litevision_inferences_total", "Images run (rate() gives inferences/s).",
            new CounterConfiguration { LabelNames = ["model"] });
    }

    public CollectorRegistry Registry { get; }

    public Counter Requests { get; }

    public Histogram Latency { get; }

    public Histogram BatchSize { get; }

    public Gauge QueueDepth { get; }

    public Counter Inferences { get; }
}
