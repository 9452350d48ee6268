"""Training throughput of PyTorch (Debian python3-torch) on the same small-input model, batch and threads as LiteVision.

Small-input ShuffleNet V2 / MobileNet V2 follow docs/small-input.md: stride-1 stem; ShuffleNet skips the max-pool,
MobileNet V2 runs its first 24-channel block at stride 1. Synthetic 28x28 batches (no data loading), SGD-Nesterov,
label-smoothed cross-entropy: the same step LiteVision's trainer takes.
Usage: python3 torch_throughput.py MODEL BATCH THREADS STEPS [nchw|channels-last]
"""
import sys, time
import torch, torchvision

name, batch, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
layout = sys.argv[5] if len(sys.argv) > 5 else "nchw"
torch.set_num_threads(threads)
torch.manual_seed(0)
if name.startswith("shufflenet_v2"):
    model = getattr(torchvision.models, name)(num_classes=10)
    model.conv1[0].stride = (1, 1)
    model.maxpool = torch.nn.Identity()
elif name == "mobilenet_v2":
    model = torchvision.models.mobilenet_v2(num_classes=10)
    model.features[0][0].stride = (1, 1)
    model.features[2].conv[1][0].stride = (1, 1)
else:
    raise SystemExit(f"unknown model {name}")
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-5)
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
x = torch.randn(batch, 3, 28, 28)
if layout == "channels-last":
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (batch,))

def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()

for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
elapsed = time.perf_counter() - start
print(f"pytorch {torch.__version__} {name} {layout} batch {batch} threads {threads}: {steps * batch / elapsed:.1f} img/s ({elapsed / steps * 1000:.1f} ms/step)")
