"""The model side of the digits example: data, tasks, the MLP, training, Fisher and Gram matrices.

Setup as in the TIES / task-arithmetic papers: one pre-trained network (here an MLP trained on the
plain 8x8 digits of scikit-learn), one fine-tuned copy per task, all with the same architecture.
Each task has its own classification head, fitted once on the frozen base features (a linear
probe) and then frozen: fine-tuning changes only the shared body (fc1, fc2), so every model, merged
or not, is evaluated on a task with that task's one head, and merging is about the body alone (the
CLIP setups of both papers freeze the zero-shot heads the same way).
"""
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

BODY = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]  # the merged tensors


def _images(x):
    return x.reshape(-1, 8, 8)


def _shift(img):
    out = np.zeros_like(img)
    out[:, 1:, 1:] = img[:, :-1, :-1]  # one pixel down and right
    return out


# name -> (image transformation, label function, classes). Distinct inputs and label groupings.
TASKS = {
    "digit": (lambda i: i, lambda y: y, 10),
    "mirror": (lambda i: i[:, :, ::-1], lambda y: y, 10),
    "invert": (lambda i: 1.0 - i, lambda y: y, 10),
    "parity": (lambda i: i, lambda y: y % 2, 2),
    "shift_ge5": (_shift, lambda y: (y >= 5).astype(np.int64), 2),
    "rot90_mod3": (lambda i: np.rot90(i, 1, axes=(1, 2)), lambda y: y % 3, 3),
}
PRETRAIN_CLASSES = 5  # the base sees the digits 0-4 only: what the tasks add about 5-9 they share


def setup(threads=1, seed=0):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def load_splits(seed=0):
    """Digits scaled to [0, 1], split 60/20/20 into train, validation (for choosing merge
    hyper-parameters) and test (for the table), stratified and seeded."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, random_state=seed, stratify=y)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def task_data(task, split):
    transform, label, _ = TASKS[task]
    x, y = split
    xt = np.ascontiguousarray(transform(_images(x)).reshape(len(x), 64), dtype=np.float32)
    return torch.from_numpy(xt), torch.from_numpy(label(y))


class Body(nn.Module):
    def __init__(self, hidden=128):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, x):
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))

    def tensors(self):
        return {k: v.detach().numpy().copy() for k, v in self.state_dict().items()}

    def load(self, tensors):
        self.load_state_dict({k: torch.from_numpy(np.asarray(tensors[k], dtype=np.float32)) for k in BODY})


def _train(params, forward, x, y, epochs, lr, seed, batch=64):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            nn.functional.cross_entropy(forward(x[idx]), y[idx]).backward()
            opt.step()


def pretrain_base(splits, epochs, hidden=128, seed=0):
    """The 'pre-trained' network: the body with a 5-way head on the plain digits 0-4."""
    torch.manual_seed(seed)
    body, head = Body(hidden), nn.Linear(hidden, PRETRAIN_CLASSES)
    keep = splits["train"][1] < PRETRAIN_CLASSES
    x, y = torch.from_numpy(splits["train"][0][keep]), torch.from_numpy(splits["train"][1][keep])
    _train(list(body.parameters()) + list(head.parameters()), lambda v: head(body(v)), x, y, epochs, 1e-3, seed)
    return body


def probe_head(body, task, splits, epochs, seed=0):
    """The task's head: a linear probe on the frozen base body, fixed from then on."""
    torch.manual_seed(seed)
    head = nn.Linear(body.fc2.out_features, TASKS[task][2])
    x, y = task_data(task, splits["train"])
    with torch.no_grad():
        features = body(x)
    _train(head.parameters(), head, features, y, epochs, 1e-2, seed)
    for p in head.parameters():
        p.requires_grad_(False)
    return head


def fine_tune(base, head, task, splits, epochs, lr, seed=0):
    body = Body(base.fc2.out_features)
    body.load_state_dict(base.state_dict())
    x, y = task_data(task, splits["train"])
    _train(body.parameters(), lambda v: head(body(v)), x, y, epochs, lr, seed)
    return body


@torch.no_grad()
def accuracy(body, head, task, split):
    x, y = task_data(task, split)
    return float((head(body(x)).argmax(1) == y).float().mean())


def fisher(body, head, task, split):
    """Diagonal Fisher of the body: E_x E_{y ~ p(y|x)} [(d log p(y|x) / d theta)^2], the expectation
    over y exact (every class, weighted by its probability), averaged over the examples."""
    x, _ = task_data(task, split)
    sums = {name: torch.zeros_like(p) for name, p in body.named_parameters()}
    for i in range(len(x)):
        log_p = torch.log_softmax(head(body(x[i:i + 1])), dim=1)[0]
        probs = log_p.detach().exp()
        for c in range(len(probs)):
            grads = torch.autograd.grad(log_p[c], list(body.parameters()), retain_graph=c + 1 < len(probs))
            for (name, _), g in zip(body.named_parameters(), grads):
                sums[name] += probs[c] * g * g
    return {name: (s / len(x)).numpy() for name, s in sums.items()}


@torch.no_grad()
def grams(body, task, split):
    """RegMean's Gram matrices: X^T X of each linear layer's inputs, named after its weight."""
    x, _ = task_data(task, split)
    h = torch.relu(body.fc1(x))
    return {"fc1.weight": (x.T @ x).numpy(), "fc2.weight": (h.T @ h).numpy()}
