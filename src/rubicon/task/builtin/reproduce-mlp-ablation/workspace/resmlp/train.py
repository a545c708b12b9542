"""Training loop: SGD with momentum, fixed learning rate, evaluation after every epoch."""

import numpy as np

from resmlp.model import MLP, softmax_cross_entropy


def evaluate(model, X, y):
    logits, _ = model.forward(X)
    loss, _ = softmax_cross_entropy(logits, y)
    return float(loss), float((logits.argmax(axis=1) == y).mean())


def train(variant, data, epochs, lr, momentum, batch_size, seed):
    """Train one variant; return its history (one entry per epoch) and best epoch."""
    X_train, y_train, X_test, y_test = data
    rng = np.random.default_rng()
    model = MLP(X_train.shape[1], variant["width"], variant["depth"], int(y_train.max()) + 1,
                variant["residual"], rng)
    velocity = [np.zeros_like(p) for p in model.params()]
    history = []
    best_loss, best_epoch = np.Inf, 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits, hs = model.forward(X_train[idx])
            _, dlogits = softmax_cross_entropy(logits, y_train[idx])
            grads = model.backward(hs, dlogits)
            for p, g, v in zip(model.params(), grads, velocity):
                v *= momentum
                v -= lr * g
                p += v
        train_loss, train_acc = evaluate(model, X_train, y_train)
        test_loss, test_acc = evaluate(model, X_test, y_test)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                        "test_loss": test_loss, "test_acc": test_acc})
        if train_loss < best_loss:
            best_loss, best_epoch = train_loss, epoch
    return {"history": history, "best_epoch": best_epoch}
