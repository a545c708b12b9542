"""AdamW with global gradient-norm clipping: the reference solution.

Same contract as the baseline (see its docstring). What it does differently:
- flat buffers: at construction the parameters move into one flat float32 tensor (each
  parameter becomes a view into it, so the caller's tensors see every update);
- zero-copy gradients: bench.py's gradients are consecutive views of one flat buffer (as in
  data-parallel gradient buckets); when they are, the step uses that buffer directly instead
  of gathering them (checked in full whenever a new list of gradients arrives);
- whole-buffer operations: one norm and one in-place scale for the clipping, one masked
  multiply-add for the weight decay (a 0/1 mask of the tensors it applies to; the decay does
  not depend on the Adam update, so it may come first), then torch's fused AdamW kernel
  (torch._fused_adamw_, the kernel behind torch.optim.AdamW(fused=True), weight decay 0) on
  the single flat buffer: moments, bias corrections and the update in one pass, no .item()
  sync, no per-tensor Python loop. Called directly: constructing torch.optim.AdamW imports
  torch._dynamo, 1.7 s of CPU at start-up on the calibration machine.
"""

import torch


class AdamW:
    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float],
                 eps: float, weight_decay: float, max_grad_norm: float) -> None:
        self.params = params
        self.wd, self.max_norm = weight_decay, max_grad_norm
        self.shapes = [p.shape for p in params]
        self.sizes = [p.numel() for p in params]
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        offset = 0
        for p, n in zip(params, self.sizes, strict=True):
            p.set_(flat.untyped_storage(), offset, p.shape)  # p is now a view of flat
            offset += n
        self.flat = flat
        self.decay = torch.cat([torch.full((k,), float(len(s) >= 2))
                                for s, k in zip(self.shapes, self.sizes, strict=True)])
        self.b1, self.b2, self.eps = betas[0], betas[1], eps
        self.m, self.v = torch.zeros_like(flat), torch.zeros_like(flat)
        self.t = torch.zeros(())
        self._grads_list: list[torch.Tensor] | None = None
        self._grads_flat: torch.Tensor | None = None

    def _flat_view(self, grads: list[torch.Tensor]) -> torch.Tensor | None:
        """The flat buffer `grads` are consecutive views of, or None."""
        st = grads[0].untyped_storage()
        offset = 0
        for g, n in zip(grads, self.sizes, strict=True):
            if (g.untyped_storage().data_ptr() != st.data_ptr() or g.storage_offset() != offset
                    or not g.is_contiguous() or g.dtype != torch.float32):
                return None
            offset += n
        return torch.empty(0).set_(st, 0, (offset,))

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        if grads is not self._grads_list:
            self._grads_list, self._grads_flat = grads, self._flat_view(grads)
        g = self._grads_flat
        if g is None:
            g = torch.cat([x.reshape(-1) for x in grads])
        g.mul_((self.max_norm / (torch.linalg.vector_norm(g) + 1e-6)).clamp_(max=1.0))
        self.flat.addcmul_(self.flat, self.decay, value=-lr * self.wd)
        self.t += 1
        torch._fused_adamw_([self.flat], [g], [self.m], [self.v], [], [self.t], lr=lr,
                            beta1=self.b1, beta2=self.b2, weight_decay=0.0, eps=self.eps,
                            amsgrad=False, maximize=False)

    def moments(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        def unflat(x: torch.Tensor) -> list[torch.Tensor]:
            return [t.view(s) for t, s in zip(x.split(self.sizes), self.shapes, strict=True)]

        return unflat(self.m), unflat(self.v)
