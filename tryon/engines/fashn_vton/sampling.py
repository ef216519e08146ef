"""Rectified-flow sampling for FASHN VTON: the shifted time schedule and the guided Euler loop.

Time runs from t = 0 (pure noise) to t = 1 (the image); the model predicts dx/dt. The schedule is
diffusers' ``FlowMatchEulerDiscreteScheduler`` with exponential time shifting: its sigma goes from
1 (noise) to 0, so ``invert_sigmas`` gives t = 1 - sigma directly (it reproduces the reference's
float32 schedule to within 3e-7). The Euler update itself is written here because the loop keeps
the running image in float32 and guides with a batched conditional + null pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from .batching import DEFAULT_GUIDANCE_SCALE, DEFAULT_NUM_STEPS
from .transformer import FashnVtonTransformer

StepCallback = Callable[[int, int], None]  # (steps done, steps in all), after each step
RowFilter = Callable[[], Sequence[bool]]  # which of the batch's rows go on, asked before each step

DEFAULT_TIME_SHIFT_MU = 1.5
DEFAULT_SKIP_CFG_LAST_N_STEPS = 1  # the last step unguided keeps colours from over-saturating


def rectified_flow_times(num_steps: int, time_shift_mu: float = DEFAULT_TIME_SHIFT_MU) -> torch.Tensor:
    """(num_steps + 1,) float32 times from 0.0 (noise) to 1.0 (image), shifted towards the noisy end by mu."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, time_shift_type="exponential", invert_sigmas=True
    )
    scheduler.set_timesteps(sigmas=np.linspace(1.0, 1.0 / num_steps, num_steps), mu=time_shift_mu)
    return scheduler.sigmas


@dataclass(frozen=True)
class Conditioning:
    """What one batch is conditioned on, on the model's device and dtype; B rows.

    ca_images, garment_images: (B, 3, H, W) in [-1, 1]; person_poses, garment_poses: (B, 1, H, W) in
    [-1, 1]; garment_categories: (B,) int64 (1 tops, 2 bottoms, 3 one-pieces).
    """

    ca_images: torch.Tensor
    garment_images: torch.Tensor
    person_poses: torch.Tensor
    garment_poses: torch.Tensor
    garment_categories: torch.Tensor

    def rows(self, index: torch.Tensor) -> Conditioning:
        """The rows ``index`` (a 1-D int64 tensor) of each tensor, in that order."""
        return Conditioning(*(tensor.index_select(0, index.to(tensor.device)) for tensor in vars(self).values()))

    def doubled(self) -> Conditioning:
        """Each tensor twice over the batch: the conditional rows, then the rows to null."""
        return Conditioning(*(torch.cat([tensor, tensor]) for tensor in vars(self).values()))


def conditional_and_null_velocity(
    transformer: FashnVtonTransformer, x: torch.Tensor, times: torch.Tensor, conditioning: Conditioning
) -> tuple[torch.Tensor, torch.Tensor]:
    """(v_c, v_u): the velocity at ``x`` (B, 3, H, W) at ``times`` (B,) conditioned, and null-conditioned.

    Both run as one batch of 2B rows: the conditional rows, then the same rows masked to the null
    conditioning.
    """
    batch = x.shape[0]
    keep = torch.cat([torch.ones(batch, dtype=torch.bool), torch.zeros(batch, dtype=torch.bool)]).to(x.device)
    velocity = transformer(
        torch.cat([x, x]), torch.cat([times, times]), **vars(conditioning.doubled()), mask=keep
    ).sample
    conditional, null = velocity.split(batch)
    return conditional, null


def guided_velocity(
    transformer: FashnVtonTransformer,
    x: torch.Tensor,
    t: float,
    conditioning: Conditioning,
    guidance_scale: float | None,
) -> torch.Tensor:
    """dx/dt at ``x`` (B, 3, H, W) float32, as float32: v_u + g * (v_c - v_u), or v_c when ``guidance_scale`` is None.

    The model runs in its own dtype; an unguided step runs the conditional pass alone.
    """
    model_x = x.to(transformer.dtype)
    times = torch.full((x.shape[0],), t, dtype=transformer.dtype, device=x.device)
    if guidance_scale is None:
        return transformer(model_x, times, **vars(conditioning)).sample.float()
    conditional, null = conditional_and_null_velocity(transformer, model_x, times, conditioning)
    conditional, null = conditional.float(), null.float()
    return null + guidance_scale * (conditional - null)


@torch.no_grad()
def sample_euler(
    transformer: FashnVtonTransformer,
    noise: torch.Tensor,
    conditioning: Conditioning,
    *,
    num_steps: int = DEFAULT_NUM_STEPS,
    guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
    skip_cfg_last_n_steps: int = DEFAULT_SKIP_CFG_LAST_N_STEPS,
    time_shift_mu: float = DEFAULT_TIME_SHIFT_MU,
    callback: StepCallback | None = None,
    keep_rows: RowFilter | None = None,
) -> torch.Tensor:
    """Integrate from ``noise`` (B, 3, H, W) at t = 0 to the image at t = 1: (B, 3, H, W) float32 in [-1, 1].

    The last ``skip_cfg_last_n_steps`` steps are unguided (and run only the conditional pass).
    ``keep_rows()`` (B flags), asked before each step, drops rows from the batch for good (a
    cancelled request): the model no longer runs on them, the other rows go on as they would
    without them, and a dropped row comes back as it was when dropped (the caller discards it).
    The loop ends early once every row is dropped.
    """
    times = rectified_flow_times(num_steps, time_shift_mu).tolist()
    x = noise.to(device=transformer.device, dtype=torch.float32)
    rows = list(range(x.shape[0]))  # the rows still sampled
    index, part = None, conditioning  # ``rows`` as a tensor, and their conditioning (None: all rows)
    for step, (t, t_next) in enumerate(zip(times[:-1], times[1:])):
        if keep_rows is not None:
            keep = keep_rows()
            if kept := [row for row in rows if keep[row]]:
                if kept != rows:
                    rows, index = kept, torch.tensor(kept, device=x.device)
                    part = conditioning.rows(index)
            else:
                break
        guided = step < num_steps - skip_cfg_last_n_steps
        running = x if index is None else x.index_select(0, index)
        velocity = guided_velocity(transformer, running, t, part, guidance_scale if guided else None)
        running = running + (t_next - t) * velocity
        x = running if index is None else x.index_copy(0, index, running)
        if callback is not None:
            callback(step + 1, num_steps)
    return x.clamp(-1.0, 1.0)
