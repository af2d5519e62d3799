"""bfloat16 matrix products for the local model, on CPUs that compute them natively.

Nearly all of MiniLM's time goes to its linear layers. On a CPU with bf16 dot-product
instructions (AVX512_BF16, AMX) those run at twice the float32 rate from half the
memory, and accumulate in float32. Only the weights and the products change precision:
layer norms, softmax, pooling and normalisation stay float32, so the vectors keep a
cosine of 0.99998 or better to the float32 model's (converting the whole model to
bfloat16 is faster still, but drifts to 0.998). Imported only by the MiniLM backend:
torch is not loaded by processes that never embed locally.
"""

from __future__ import annotations

import torch
from torch import nn

PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bf16 natively; elsewhere bf16 is emulated, and slower."""
    # torch has no public test for these; a torch without them is treated as lacking both.
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def resolve(precision: str) -> str:
    """The precision `auto` stands for on this machine; the others as they are."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


class BFloat16Linear(nn.Module):
    """A linear layer that keeps its weight in bfloat16 and returns float32."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.weight = nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
        self.bias = (
            None
            if linear.bias is None
            else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        product = nn.functional.linear(inputs.to(torch.bfloat16), self.weight).float()
        return product if self.bias is None else product + self.bias


def use_bfloat16_products(module: nn.Module) -> int:
    """Replace every nn.Linear inside `module` by a BFloat16Linear; returns how many."""
    replaced = 0
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, BFloat16Linear(child))
            replaced += 1
        else:
            replaced += use_bfloat16_products(child)
    return replaced
