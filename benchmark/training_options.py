"""Training options any task (`train:` in its YAML) or method (`optimizer_options()`) may turn on.

  clip_grad_norm  c: before every optimizer step the gradients of the optimized parameters are rescaled,
                  g <- g * min(1, c / ||g||), ||g|| their joint L2 norm (Pascanu et al., ICML 2013)
  schedule        "one_cycle": the learning rate rises from lr/25 to lr over the first 30% of the run's
                  steps and anneals to lr/1e4 by the end, momentum (Adam's beta1) moving opposite between
                  0.85 and 0.95 (Smith, arXiv:1803.09820; torch.optim.lr_scheduler.OneCycleLR)

Both act as hooks on the optimizer itself, so they apply to every update a method makes, also in methods
that override `step` (SAM, Fish, ...). Off (the defaults), nothing is attached: the optimizer, and every
number a run produces, is exactly the one without this module.
"""

from __future__ import annotations

import torch


def attach(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], train, total_steps: int):
    """Attach the options `train` (a TrainSpec) turns on to `optimizer`; `total_steps` is the run's length."""
    if train.clip_grad_norm is not None:
        limit = train.clip_grad_norm

        def clip(opt, args, kwargs):
            torch.nn.utils.clip_grad_norm_(params, limit)  # in place; the hook itself returns nothing

        optimizer.register_step_pre_hook(clip)
    if train.schedule == "one_cycle":
        momentum = train.optimizer == "adam" or train.momentum > 0  # plain SGD keeps no momentum to cycle
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=train.lr, total_steps=max(total_steps, 2),
                                                        cycle_momentum=momentum)

        def advance(opt, args, kwargs):
            # a method stepping more often than planned (an inner loop) stays at the final rate
            if scheduler.last_epoch < scheduler.total_steps - 1:
                scheduler.step()

        optimizer.register_step_post_hook(advance)
        optimizer.scheduler = scheduler  # for inspection; the hook drives it
    return optimizer
