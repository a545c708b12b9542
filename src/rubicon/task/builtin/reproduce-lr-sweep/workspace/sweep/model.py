"""A small MLP language model over a fixed context (Bengio et al., 2003 style)."""

import torch
from torch import nn


class MLPLM(nn.Module):
    def __init__(self, vocab, context, emb, hidden):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.hidden = nn.Linear(context * emb, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x):
        h = self.emb(x).flatten(1)
        return self.out(torch.tanh(self.hidden(h)))
