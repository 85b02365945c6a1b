"""Training throughput: the canonical DCGAN example's loop vs gankit's loop, same nets, same batch.

The reference is written the way pytorch/examples/dcgan/main.py does it: PIL transforms in a
DataLoader (2 workers), Sigmoid + BCELoss, G forward once per iteration, `.item()` every step.
gankit runs the same DCGAN-64 pair (nz=100, ngf=ndf=64) through its own Trainer step (data held
as uint8 tensors, losses on logits, no per-step sync), in each of its modes.

    python benchmarks/throughput.py --iters 20                  # CPU
    python benchmarks/throughput.py --device cuda --iters 300   # GPU
Prints one table; the ratio column is against the reference in the same run.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
import torch.nn as nn


# --- the canonical example's nets and loop --------------------------------------------------------
class RefG(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=1):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


class RefD(nn.Module):
    def __init__(self, ndf=64, nc=1):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


class PILDataset(torch.utils.data.Dataset):
    """Like torchvision.datasets.FashionMNIST: a PIL image per item, then the example's transforms."""

    def __init__(self, images: np.ndarray, size: int):
        import torchvision.transforms as T
        self.images = images
        self.tf = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(), T.Normalize((0.5,), (0.5,))])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        return self.tf(Image.fromarray(self.images[i], mode="L")), 0


def reference(images, batch, iters, warmup, device):
    netG, netD = RefG().to(device), RefD().to(device)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = torch.utils.data.DataLoader(PILDataset(images, 64), batch_size=batch, shuffle=True, num_workers=2,
                                         drop_last=True, persistent_workers=True)
    done, t0 = 0, None
    while True:
        for data, _ in loader:
            if done == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            real = data.to(device)
            b = real.size(0)
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            errD_real = criterion(netD(real), label)
            errD_real.backward()
            D_x = errD_real.item()
            noise = torch.randn(b, 100, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()), label)
            errD_fake.backward()
            optD.step()
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake), label)
            errG.backward()
            optG.step()
            _ = (errD_real + errD_fake).item(), errG.item(), D_x  # the example prints these every step
            done += 1
            if done == warmup + iters:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                return iters * batch / (time.perf_counter() - t0)


def gankit_loop(images, batch, iters, warmup, device, **train):
    from gankit.config import build_config
    from gankit.data import Data
    from gankit.training.loop import Trainer

    data = Data(torch.from_numpy(images[:, None]), name="fashion-mnist")
    from gankit.data import fit_images
    from gankit.config import DataConfig
    data = fit_images(data, DataConfig(image_size=64), None, print)
    settings = {"net.name": "dcgan", "net.z_dim": 100, "net.g_width": 64, "net.d_width": 64,
                "train.batch_size": batch, "train.steps": warmup + iters, "train.device": str(device),
                "train.progress": False, "train.tensorboard": False, "train.ema": 0.0}
    settings.update({f"train.{k}": v for k, v in train.items()})
    cfg = build_config(None, settings)
    import tempfile
    t = Trainer(cfg, tempfile.mkdtemp(), data=data, log=lambda m: None)
    for i in range(warmup + iters):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        t._train_step()
    torch.stack([p.sum() for p in t.objective.nets.parameters()]).sum().item()  # wait for the device
    return iters * batch / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--best-batch", type=int, default=0, help="also run gankit at this batch size")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--images", type=int, default=10000, help="Fashion-MNIST training images used")
    ap.add_argument("--modes", default="fp32,bf16+nhwc", help="gankit modes to run")
    args = ap.parse_args()
    from gankit.config import DataConfig
    from gankit.data import load_data

    device = torch.device(args.device)
    images = load_data(DataConfig(spec="fashion-mnist", limit=args.images)).x[:, 0].numpy()  # (N, 28, 28) uint8
    rows = [("reference (canonical example)", args.batch, reference(images, args.batch, args.iters, args.warmup,
                                                                     device))]
    modes = {"fp32": {"amp": "none", "channels_last": "off"}, "bf16": {"amp": "bf16", "channels_last": "off"},
             "nhwc": {"amp": "none", "channels_last": "on"}, "bf16+nhwc": {"amp": "bf16", "channels_last": "on"},
             "nhwc+compile": {"amp": "none", "channels_last": "on", "compile": True},
             "bf16+nhwc+compile": {"amp": "bf16", "channels_last": "on", "compile": True}}
    for m in args.modes.split(","):
        rows.append((f"gankit {m}", args.batch, gankit_loop(images, args.batch, args.iters, args.warmup, device,
                                                            **modes[m])))
    if args.best_batch:
        m = args.modes.split(",")[-1]
        rows.append((f"gankit {m}", args.best_batch, gankit_loop(images, args.best_batch, args.iters, args.warmup,
                                                                 device, **modes[m])))
    ref = rows[0][2]
    print(f"DCGAN-64 (nz=100, ngf=ndf=64) on Fashion-MNIST resized to 64x64; device {device}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    print(f"{'loop':<34} {'batch':>6} {'images/s':>10} {'vs reference':>13}")
    for name, b, ips in rows:
        print(f"{name:<34} {b:>6} {ips:>10.1f} {ips / ref:>12.2f}x")


if __name__ == "__main__":
    main()
