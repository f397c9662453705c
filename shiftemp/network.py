"""A multilayer perceptron on numpy with explicit backpropagation, and the energy along its path.

The network is the model family of theory section 7 (a reconstruction of "On the Temperature of
Machine Learning Systems", Dong Zhang, arXiv 2404.13218; see ``docs/networks.md``). Training
records, per layer ``l``, the energy the layer releases: the path integral of the gradient of the
energy along the training trajectory,

    dE_l = sum_k 0.5 (g_l(k) + g_l(k + 1)) . (w_l(k + 1) - w_l(k)),

with ``g`` the gradient of the energy ``E`` (the mean loss on all training rows, not on a batch)
at the checkpoints ``k`` of the trajectory. The layers' terms add up to ``E_end - E_start`` up to
the quadrature error, which every result reports as its ``residual``.

Shapes: ``X`` is (n, d) float features, already standardised by the caller; ``y`` is (n,) floats
(regression) or integer class codes 0..K-1 (classification). Parameters live in one flat float64
vector; layer ``l`` owns a contiguous block, its weights (fan_in, fan_out) in C order, then its
biases (fan_out,). Layer 0 takes the features, the last layer is the output layer.

Energies are in the loss's units: squared target units for MSE, target units for MAE, nats for
cross entropy. Entropies are in nats.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, special

from .errors import InputError, OptionError
from .models import Loss

__all__ = [
    "Activation",
    "Architecture",
    "BinaryOutput",
    "InitKind",
    "InitScheme",
    "MixedLaw",
    "Network",
    "NormalLaw",
    "Optimizer",
    "Schedule",
    "TrainingResult",
    "UniformLaw",
    "fisher_diagonal",
    "train",
]


class Activation(str, enum.Enum):
    """Activation of the hidden layers (the output layer is always affine)."""

    IDENTITY = "identity"
    RELU = "relu"
    TANH = "tanh"
    LOGISTIC = "logistic"


class BinaryOutput(str, enum.Enum):
    """How a two-class cross-entropy network emits its probability."""

    SIGMOID = "sigmoid"
    """One output unit, ``p(y=1|x) = sigmoid(z)``: fewer parameters, the default."""
    SOFTMAX = "softmax"
    """Two output units and a softmax, as for K > 2."""


class Optimizer(str, enum.Enum):
    """Training algorithm."""

    ADAM = "adam"
    """Mini-batch Adam (the default schedule)."""
    SGD = "sgd"
    """Mini-batch stochastic gradient descent with (heavy-ball) momentum."""
    GD = "gd"
    """Full-batch gradient descent: one step per epoch, the exact gradient at every step."""


class InitKind(str, enum.Enum):
    """Initialization law of every parameter (weights and biases alike)."""

    NORMAL = "normal"
    UNIFORM = "uniform"
    MIXED = "mixed"


# ------------------------------------------------------------------------------------------
# initialization laws (theory section 2). A minimal version: shiftemp/laws.py did not exist when
# this module was written; the two should be merged.


@dataclass(frozen=True)
class NormalLaw:
    """``N(0, scale^2)`` for each parameter.

    Examples
    --------
    >>> round(NormalLaw(1.0).entropy(), 6)  # 0.5 ln(2 pi e)
    1.418939
    """

    scale: float

    @property
    def variance(self) -> float:
        """Variance of one parameter, ``scale^2``."""
        return self.scale**2

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Independent draws of the given shape."""
        return rng.normal(0.0, self.scale, size=shape)

    def entropy(self) -> float:
        """Differential entropy of one parameter, ``0.5 ln(2 pi e s^2)`` nats."""
        return 0.5 * math.log(2.0 * math.pi * math.e * self.variance)


@dataclass(frozen=True)
class UniformLaw:
    """``U(-half_width, half_width)`` for each parameter.

    Examples
    --------
    >>> round(UniformLaw(0.5).entropy(), 12)  # ln(2a)
    0.0
    """

    half_width: float

    @property
    def variance(self) -> float:
        """Variance of one parameter, ``a^2 / 3``."""
        return self.half_width**2 / 3.0

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Independent draws of the given shape."""
        return rng.uniform(-self.half_width, self.half_width, size=shape)

    def entropy(self) -> float:
        """Differential entropy of one parameter, ``ln(2a)`` nats."""
        return math.log(2.0 * self.half_width)


@dataclass(frozen=True)
class MixedLaw:
    """The per-parameter mixture ``weight N(0, scale^2) + (1 - weight) U(-half_width, half_width)``.

    Examples
    --------
    >>> law = MixedLaw(0.5, 1.0, math.sqrt(3.0))
    >>> low, high = law.entropy_bounds()
    >>> low <= law.entropy() <= high
    True
    """

    weight: float
    scale: float
    half_width: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise OptionError(
                f"the mixing weight of a mixed initialization must lie in [0, 1]; "
                f"got {self.weight}. Pass a weight between 0 and 1."
            )

    @property
    def variance(self) -> float:
        """Variance of one parameter, ``pi s^2 + (1 - pi) a^2 / 3``."""
        return self.weight * self.scale**2 + (1.0 - self.weight) * self.half_width**2 / 3.0

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Independent draws: each entry picks its component with probability ``weight``."""
        from_normal = rng.random(size=shape) < self.weight
        normal = rng.normal(0.0, self.scale, size=shape)
        uniform = rng.uniform(-self.half_width, self.half_width, size=shape)
        return np.where(from_normal, normal, uniform)

    def entropy(self) -> float:
        """Differential entropy of one parameter, by adaptive 1-D quadrature (nats).

        Notes
        -----
        With ``p(x) = pi phi_s(x) + (1 - pi) 1{|x| < a} / (2a)`` and the symmetry of ``p``,
        ``h = -2 (int_0^a p ln p + int_a^inf pi phi_s ln(pi phi_s))``; the second integrand is
        written with ``ln phi_s`` in closed form so that the far tail neither underflows nor
        loses digits. The two pieces are smooth, so Gauss-Kronrod quadrature reaches about
        1e-12 absolute.
        """
        pi, s, a = self.weight, self.scale, self.half_width
        if pi == 0.0:
            return UniformLaw(a).entropy()
        if pi == 1.0:
            return NormalLaw(s).entropy()
        log_norm = -math.log(s * math.sqrt(2.0 * math.pi))
        flat = (1.0 - pi) / (2.0 * a)

        def inside(x: float) -> float:
            p = pi * math.exp(log_norm - 0.5 * (x / s) ** 2) + flat
            return p * math.log(p)

        def outside(x: float) -> float:
            log_p = math.log(pi) + log_norm - 0.5 * (x / s) ** 2
            return math.exp(log_p) * log_p

        tol = dict(epsabs=1e-13, epsrel=1e-13, limit=200)
        body, _ = integrate.quad(inside, 0.0, a, **tol)
        tail, _ = integrate.quad(outside, a, a + 40.0 * s, **tol)
        return -2.0 * (body + tail)

    def entropy_bounds(self) -> tuple[float, float]:
        """Closed-form bounds ``(lower, upper)`` on :meth:`entropy` (nats).

        The entropy of a mixture lies between the weighted entropies of its components
        (concavity) and that plus the entropy of the mixing weights.
        """
        pi = self.weight
        base = pi * NormalLaw(self.scale).entropy() + (1 - pi) * UniformLaw(self.half_width).entropy()
        mixing = -special.xlogy(pi, pi) - special.xlogy(1 - pi, 1 - pi)
        return base, base + float(mixing)


InitLaw = NormalLaw | UniformLaw | MixedLaw


@dataclass(frozen=True)
class InitScheme:
    """How each layer's initialization law is chosen.

    Parameters
    ----------
    kind
        The law's family. Every parameter of a layer, weights and biases, is drawn from the same
        law (so that every parameter has a finite initialization entropy).
    scale
        Standard deviation of every parameter in every layer. ``None`` (the default) uses the
        fan-in rule: variance ``2 / fan_in`` for relu (He), ``1 / fan_in`` for identity, tanh and
        logistic (LeCun).
    mix_weight
        For ``MIXED``: the weight of the normal component. Both components have the same
        variance, so the mixture has the variance the rule asks for.
    """

    kind: InitKind = InitKind.NORMAL
    scale: float | None = None
    mix_weight: float = 0.5

    def law(self, fan_in: int, activation: Activation) -> InitLaw:
        """The law of the parameters of a layer with ``fan_in`` inputs."""
        if self.scale is None:
            gain = 2.0 if activation is Activation.RELU else 1.0
            sd = math.sqrt(gain / fan_in)
        else:
            sd = float(self.scale)
        if not sd > 0.0:
            raise OptionError(f"the initialization scale must be positive; got {sd}.")
        if self.kind is InitKind.NORMAL:
            return NormalLaw(sd)
        # a uniform law with half-width sqrt(3) sd has standard deviation sd
        half_width = math.sqrt(3.0) * sd
        if self.kind is InitKind.UNIFORM:
            return UniformLaw(half_width)
        return MixedLaw(self.mix_weight, sd, half_width)


# ------------------------------------------------------------------------------------------
# architecture and network


@dataclass(frozen=True)
class Architecture:
    """The shape of a network and its loss.

    Parameters
    ----------
    n_features
        Number of input columns d.
    hidden
        Widths of the hidden layers, e.g. ``(64, 64)``; ``()`` is a linear model.
    activation
        Activation of every hidden layer.
    loss
        ``Loss.MSE`` or ``Loss.MAE`` (regression, one output) or ``Loss.CE`` (classification).
    n_classes
        For ``Loss.CE``: the number of classes K >= 2 (codes 0..K-1).
    binary_output
        For K = 2: one sigmoid unit (default) or a two-unit softmax.
    """

    n_features: int
    hidden: tuple[int, ...] = (64,)
    activation: Activation = Activation.RELU
    loss: Loss = Loss.MSE
    n_classes: int | None = None
    binary_output: BinaryOutput = BinaryOutput.SIGMOID

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "activation", Activation(self.activation))
        object.__setattr__(self, "loss", Loss(self.loss))
        object.__setattr__(self, "binary_output", BinaryOutput(self.binary_output))
        if self.n_features < 1 or any(h < 1 for h in self.hidden):
            raise OptionError(
                f"a network needs at least one feature and positive hidden widths; got "
                f"{self.n_features} features and hidden sizes {self.hidden}. Pass e.g. --hidden 64,32."
            )
        if self.loss is Loss.CE and (self.n_classes is None or self.n_classes < 2):
            raise OptionError(
                f"a cross-entropy network needs n_classes >= 2; got {self.n_classes}. "
                f"Pass the number of classes, or use --loss mse|mae for a numeric target."
            )

    @property
    def is_classifier(self) -> bool:
        return self.loss is Loss.CE

    @property
    def uses_sigmoid(self) -> bool:
        """True when the output is one logit read through a sigmoid."""
        return self.is_classifier and self.n_classes == 2 and self.binary_output is BinaryOutput.SIGMOID

    @property
    def n_outputs(self) -> int:
        if not self.is_classifier or self.uses_sigmoid:
            return 1
        return int(self.n_classes)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths of every layer of units, inputs first: ``(d, h_1, ..., n_outputs)``."""
        return (self.n_features, *self.hidden, self.n_outputs)

    @property
    def n_layers(self) -> int:
        """Number of parameter layers (hidden layers + the output layer)."""
        return len(self.hidden) + 1

    @property
    def layer_names(self) -> tuple[str, ...]:
        """``("hidden 1", ..., "output")``."""
        return tuple(f"hidden {i + 1}" for i in range(len(self.hidden))) + ("output",)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Number of parameters of each layer, ``fan_in * fan_out + fan_out``."""
        s = self.sizes
        return tuple(s[i] * s[i + 1] + s[i + 1] for i in range(self.n_layers))

    @property
    def layer_starts(self) -> np.ndarray:
        """Offset of each layer's block in the flat parameter vector, (L,)."""
        return np.concatenate([[0], np.cumsum(self.layer_sizes)[:-1]]).astype(np.intp)

    @property
    def n_parameters(self) -> int:
        return int(sum(self.layer_sizes))


def _views(architecture: Architecture, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W_l, b_l) views into a flat vector, one pair per layer."""
    out = []
    s = architecture.sizes
    offset = 0
    for i in range(architecture.n_layers):
        fan_in, fan_out = s[i], s[i + 1]
        W = flat[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out)
        offset += fan_in * fan_out
        b = flat[offset:offset + fan_out]
        offset += fan_out
        out.append((W, b))
    return out


def _per_layer(architecture: Architecture, flat: np.ndarray) -> np.ndarray:
    """Sum of a per-parameter vector over each layer's block, (L,)."""
    return np.add.reduceat(flat, architecture.layer_starts)


@dataclass(frozen=True, eq=False)
class Network:
    """A fitted (or initial) multilayer perceptron: an architecture and its parameters.

    ``parameters`` is a read-only flat float64 vector; see the module docstring for its layout.

    Examples
    --------
    >>> arch = Architecture(n_features=2, hidden=(3,), activation=Activation.TANH)
    >>> net = Network.initial(arch, InitScheme(), np.random.default_rng(0))
    >>> net.predict(np.zeros((4, 2))).shape
    (4,)
    """

    architecture: Architecture
    parameters: np.ndarray

    def __post_init__(self) -> None:
        flat = np.array(self.parameters, dtype=np.float64, copy=True).ravel()
        if flat.size != self.architecture.n_parameters:
            raise OptionError(
                f"the parameter vector has {flat.size} entries; the architecture needs "
                f"{self.architecture.n_parameters}."
            )
        flat.flags.writeable = False
        object.__setattr__(self, "parameters", flat)

    @classmethod
    def initial(cls, architecture: Architecture, init: InitScheme, rng: np.random.Generator) -> "Network":
        """A network with parameters drawn from ``init``'s per-layer laws."""
        laws = initial_laws(architecture, init)
        blocks = [law.sample((size,), rng) for law, size in zip(laws, architecture.layer_sizes)]
        return cls(architecture, np.concatenate(blocks))

    def weights(self, layer: int) -> np.ndarray:
        """Weights of ``layer``, (fan_in, fan_out)."""
        return _views(self.architecture, self.parameters)[layer][0]

    def bias(self, layer: int) -> np.ndarray:
        """Biases of ``layer``, (fan_out,)."""
        return _views(self.architecture, self.parameters)[layer][1]

    def output(self, X: np.ndarray) -> np.ndarray:
        """Raw outputs (n, n_outputs): the value, or the logits."""
        return _Kernel(self.architecture, len(X)).forward(self.parameters, _as_features(X, self.architecture))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions: the value (n,) for regression, class probabilities (n, K) otherwise."""
        z = self.output(X)
        if not self.architecture.is_classifier:
            return z[:, 0]
        if self.architecture.uses_sigmoid:
            p1 = special.expit(z[:, 0])
            return np.column_stack([1.0 - p1, p1])
        return special.softmax(z, axis=1)

    def loss_per_row(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss (n,), in the loss's units."""
        X, y = _check_data(self.architecture, X, y)
        return _loss_per_row(self.architecture, self.output(X), y)

    def energy(self, X: np.ndarray, y: np.ndarray) -> float:
        """The energy ``E(w; D)``: the mean loss over the rows of ``X``, ``y``."""
        X, y = _check_data(self.architecture, X, y)
        return _energy_and_gradient(self.architecture, self.parameters, X, y, want_gradient=False)[0]

    def gradient(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient of the energy with respect to the flat parameters, (n_parameters,)."""
        X, y = _check_data(self.architecture, X, y)
        return _energy_and_gradient(self.architecture, self.parameters, X, y)[1]


def initial_laws(architecture: Architecture, init: InitScheme) -> tuple[InitLaw, ...]:
    """The initialization law of each layer, (L,)."""
    return tuple(init.law(architecture.sizes[i], architecture.activation) for i in range(architecture.n_layers))


# ------------------------------------------------------------------------------------------
# numeric kernels: forward, backward, losses


def _activate(activation: Activation, Z: np.ndarray) -> None:
    """Apply the activation to ``Z`` in place."""
    if activation is Activation.RELU:
        np.maximum(Z, 0.0, out=Z)
    elif activation is Activation.TANH:
        np.tanh(Z, out=Z)
    elif activation is Activation.LOGISTIC:
        special.expit(Z, out=Z)


def _times_derivative(activation: Activation, A: np.ndarray, delta: np.ndarray, tmp: np.ndarray) -> None:
    """``delta *= phi'(z)`` in place, with the derivative written from the activation ``A = phi(z)``.

    Writing it from ``A`` lets the forward pass keep only the activations.
    """
    if activation is Activation.RELU:
        np.greater(A, 0.0, out=tmp)
        delta *= tmp
    elif activation is Activation.TANH:
        np.multiply(A, A, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        delta *= tmp
    elif activation is Activation.LOGISTIC:
        np.subtract(1.0, A, out=tmp)
        tmp *= A
        delta *= tmp


def _loss_per_row(architecture: Architecture, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row loss (n,) of raw outputs ``z`` (n, n_outputs)."""
    loss = architecture.loss
    if loss is Loss.MSE:
        r = y - z[:, 0]
        return r * r
    if loss is Loss.MAE:
        return np.abs(y - z[:, 0])
    if architecture.uses_sigmoid:
        # -ln p(y|x) = ln(1 + e^z) - y z, stable for both signs of z
        return np.logaddexp(0.0, z[:, 0]) - y * z[:, 0]
    codes = y.astype(np.intp)
    return special.logsumexp(z, axis=1) - z[np.arange(len(z)), codes]


def _output_score(architecture: Architecture, z: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """Per-row derivative of the loss with respect to the raw outputs, written into ``out`` (n, k)."""
    loss = architecture.loss
    if loss is Loss.MSE:
        np.subtract(z[:, 0], y, out=out[:, 0])
        out *= 2.0
    elif loss is Loss.MAE:
        np.sign(z[:, 0] - y, out=out[:, 0])
    elif architecture.uses_sigmoid:
        special.expit(z[:, 0], out=out[:, 0])
        out[:, 0] -= y
    else:
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        out[np.arange(len(z)), y.astype(np.intp)] -= 1.0


class _Kernel:
    """Forward and backward passes with buffers sized for at most ``rows`` rows.

    Preallocating the activations once per training run keeps the per-step Python and allocation
    overhead small, which is what decides the speed for mini-batches of a few hundred rows.
    """

    def __init__(self, architecture: Architecture, rows: int) -> None:
        self.arch = architecture
        rows = max(int(rows), 1)
        s = architecture.sizes
        self.acts = [np.empty((rows, w)) for w in s[1:]]
        self.deltas = [np.empty((rows, w)) for w in s[1:]]
        self.tmp = [np.empty((rows, w)) for w in s[1:]]

    def forward(self, flat: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Raw outputs (m, n_outputs) for the m rows of ``X``; fills the activation buffers."""
        m = len(X)
        views = _views(self.arch, flat)
        A = X
        last = self.arch.n_layers - 1
        for i, (W, b) in enumerate(views):
            Z = self.acts[i][:m]
            np.matmul(A, W, out=Z)
            Z += b
            if i < last:
                _activate(self.arch.activation, Z)
            A = Z
        return A

    def backward(
        self, flat: np.ndarray, X: np.ndarray, delta: np.ndarray, grad: np.ndarray, scale: float
    ) -> None:
        """Gradient ``scale * sum_i dl_i/dw`` into the flat vector ``grad``.

        ``delta`` (m, n_outputs) holds the per-row derivative of the loss with respect to the
        raw outputs; the forward pass must have run on the same rows.
        """
        m = len(X)
        views = _views(self.arch, flat)
        grads = _views(self.arch, grad)
        if scale != 1.0:
            delta *= scale
        for i in range(self.arch.n_layers - 1, -1, -1):
            A_in = X if i == 0 else self.acts[i - 1][:m]
            gW, gb = grads[i]
            np.matmul(A_in.T, delta, out=gW)
            np.sum(delta, axis=0, out=gb)
            if i > 0:
                below = self.deltas[i - 1][:m]
                np.matmul(delta, views[i][0].T, out=below)
                _times_derivative(self.arch.activation, A_in, below, self.tmp[i - 1][:m])
                delta = below

    def backward_squares(self, flat: np.ndarray, X: np.ndarray, delta: np.ndarray, fisher: np.ndarray) -> None:
        """Add ``sum_i (dl_i/dw_j)^2`` for every parameter j to ``fisher`` (flat).

        For a weight, ``dl_i/dW[j, k] = a_ij delta_ik``, so the sum over rows of its square is the
        matrix product ``(A^2)' (Delta^2)``: one extra product per layer, no per-row gradients.
        """
        m = len(X)
        views = _views(self.arch, flat)
        acc = _views(self.arch, fisher)
        for i in range(self.arch.n_layers - 1, -1, -1):
            A_in = X if i == 0 else self.acts[i - 1][:m]
            fW, fb = acc[i]
            d2 = delta * delta
            fW += (A_in * A_in).T @ d2
            fb += d2.sum(axis=0)
            if i > 0:
                below = self.deltas[i - 1][:m]
                np.matmul(delta, views[i][0].T, out=below)
                _times_derivative(self.arch.activation, A_in, below, self.tmp[i - 1][:m])
                delta = below


#: Rows per chunk when a pass runs over a whole dataset: bounds memory at a few MiB per layer
#: of width 64 and keeps the products in cache.
_CHUNK_ROWS = 1024


def _energy_and_gradient(
    architecture: Architecture,
    flat: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    *,
    want_gradient: bool = True,
    kernel: _Kernel | None = None,
) -> tuple[float, np.ndarray | None]:
    """Energy (mean loss) and its gradient over all rows, in chunks."""
    n = len(X)
    kernel = kernel or _Kernel(architecture, min(n, _CHUNK_ROWS))
    total = 0.0
    grad = np.zeros(architecture.n_parameters) if want_gradient else None
    part = np.empty(architecture.n_parameters) if want_gradient else None
    delta = np.empty((min(n, _CHUNK_ROWS), architecture.n_outputs))
    for start in range(0, n, _CHUNK_ROWS):
        xb, yb = X[start:start + _CHUNK_ROWS], y[start:start + _CHUNK_ROWS]
        z = kernel.forward(flat, xb)
        total += float(_loss_per_row(architecture, z, yb).sum())
        if want_gradient:
            d = delta[:len(xb)]
            _output_score(architecture, z, yb, d)
            kernel.backward(flat, xb, d, part, 1.0 / n)
            grad += part
    return total / n, grad


# ------------------------------------------------------------------------------------------
# empirical Fisher information


def residual_density_at_zero(r: np.ndarray) -> float:
    """Gaussian-kernel density of the residuals at 0 with Silverman's bandwidth (1 / target units)."""
    from .models import residual_density_at_zero as density

    return density(r)


def fisher_diagonal(network: Network, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``n F_jj``: the row-summed squared score of every parameter, (n_parameters,).

    The score is that of the likelihood the loss implies, so that the precision has the units of
    ``1 / parameter^2`` whatever the loss:

    - MSE: Gaussian noise with the residual variance ``sigma^2``: score ``r_i / sigma^2 * df_i/dw``;
    - MAE: Laplace noise with density ``f(0)`` at zero: score ``2 f(0) sign(r_i) df_i/dw``;
    - cross entropy: the loss is the negative log-likelihood: score ``dl_i/dw``.

    Notes
    -----
    ``F_jj = (1/n) sum_i s_ij^2`` is the empirical Fisher information; for a linear model it
    reproduces the diagonal of theory section 2's precisions (``X'X / sigma^2`` for MSE,
    ``4 f(0)^2 X'X`` for MAE).
    """
    arch = network.architecture
    X, y = _check_data(arch, X, y)
    n = len(X)
    kernel = _Kernel(arch, min(n, _CHUNK_ROWS))
    flat = network.parameters
    if arch.loss is Loss.CE:
        factor = 1.0
    else:
        r = y - network.output(X)[:, 0]
        if arch.loss is Loss.MSE:
            sigma2 = max(float(np.mean(r * r)), 1e-300)
            factor = 1.0 / sigma2
        else:
            factor = 2.0 * residual_density_at_zero(r)
    fisher = np.zeros(arch.n_parameters)
    delta = np.empty((min(n, _CHUNK_ROWS), arch.n_outputs))
    for start in range(0, n, _CHUNK_ROWS):
        xb, yb = X[start:start + _CHUNK_ROWS], y[start:start + _CHUNK_ROWS]
        z = kernel.forward(flat, xb)
        d = delta[:len(xb)]
        _output_score(arch, z, yb, d)
        if arch.loss is Loss.MSE:
            d *= 0.5 * factor  # the loss derivative is 2 (f - y); the Gaussian score is r / sigma^2
        elif arch.loss is Loss.MAE:
            d *= factor
        kernel.backward_squares(flat, xb, d, fisher)
    return fisher


# ------------------------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class Schedule:
    """How a network is trained.

    The default is mini-batch Adam (learning rate 1e-3, betas 0.9/0.999, batch 200 rows, the
    rows reshuffled every epoch) for about 10,000 steps: ``epochs=None`` means
    ``ceil(10_000 / steps_per_epoch)`` clipped to [10, 1000].

    Parameters
    ----------
    optimizer
        ``ADAM`` (default), ``SGD`` with momentum, or ``GD``: full-batch gradient descent, one
        step per epoch, whose energy path is recorded at every step.
    learning_rate
        Step size; ``None`` takes 1e-3 for Adam, 1e-2 for SGD and 1e-1 for GD.
    batch_size
        Rows per mini-batch (ignored by ``GD``).
    epochs
        Passes over the training rows; ``None`` for the rule above.
    momentum, beta1, beta2, epsilon
        Optimizer constants.
    max_rows
        Inputs with more rows are sampled down to this many, without replacement, with the
        training ``rng``; results report the rows used.
    checkpoints
        Mini-batch optimizers: the number of points of the trajectory at which the energy and its
        gradient are evaluated on all training rows. They are spaced geometrically in the step
        count, dense at the start where the energy falls fastest. Each costs one pass over the
        data; the path integral is the trapezoid rule over the chords between them.
    """

    optimizer: Optimizer = Optimizer.ADAM
    learning_rate: float | None = None
    batch_size: int = 200
    epochs: int | None = None
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    max_rows: int = 100_000
    checkpoints: int = 48

    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return {Optimizer.ADAM: 1e-3, Optimizer.SGD: 1e-2, Optimizer.GD: 1e-1}[Optimizer(self.optimizer)]

    def steps_per_epoch(self, n_rows: int) -> int:
        if Optimizer(self.optimizer) is Optimizer.GD:
            return 1
        return -(-n_rows // self.batch_size)

    def resolved_epochs(self, n_rows: int) -> int:
        if self.epochs is not None:
            return int(self.epochs)
        return int(min(max(-(-10_000 // self.steps_per_epoch(n_rows)), 10), 1000))


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A trained network and the energy its layers released along the way.

    Attributes
    ----------
    network, start
        The network at the end and at the start of training.
    laws
        The initialization law of each layer, or ``None`` after a warm start.
    layer_energy
        (L,) ``dE_l``, the path integral of layer l's gradient: negative when the layer releases
        energy. Energy units.
    energy_start, energy_end
        The energy on all training rows at the first and last point of the trajectory.
    residual
        ``sum(layer_energy) - (energy_end - energy_start)``: the quadrature error.
    checkpoint_steps, energy_path
        Optimizer steps at which the energy was evaluated, and the energies there, (C,) each.
    rows
        Indices of the rows trained on when the input was sampled, else ``None``.
    rows_total
        Rows in the input.
    epochs, steps, learning_rate
        The schedule as run.
    """

    network: Network
    start: Network
    laws: tuple[InitLaw, ...] | None
    layer_energy: np.ndarray
    energy_start: float
    energy_end: float
    checkpoint_steps: np.ndarray
    energy_path: np.ndarray
    rows: np.ndarray | None
    rows_total: int
    schedule: Schedule
    epochs: int
    steps: int
    learning_rate: float
    residual: float = field(init=False)

    def __post_init__(self) -> None:
        residual = float(np.sum(self.layer_energy) - (self.energy_end - self.energy_start))
        object.__setattr__(self, "residual", residual)

    @property
    def rows_used(self) -> int:
        return self.rows_total if self.rows is None else int(len(self.rows))

    @property
    def sampled(self) -> bool:
        return self.rows is not None


def sample_rows(n_rows: int, max_rows: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted indices of ``max_rows`` rows drawn without replacement, or ``None`` if all fit."""
    if n_rows <= max_rows:
        return None
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def checkpoint_steps(total_steps: int, count: int) -> np.ndarray:
    """Steps ``0 < s <= total_steps`` at which to evaluate the full energy, geometric, last included.

    >>> checkpoint_steps(1000, 5).tolist()
    [1, 6, 32, 178, 1000]
    """
    if total_steps <= count:
        return np.arange(1, total_steps + 1)
    grid = np.rint(np.geomspace(1, total_steps, max(count, 2))).astype(np.int64)
    return np.unique(np.append(grid, total_steps))


def train(
    X: np.ndarray,
    y: np.ndarray,
    architecture: Architecture,
    rng: np.random.Generator,
    *,
    schedule: Schedule = Schedule(),
    init: InitScheme = InitScheme(),
    start: Network | None = None,
) -> TrainingResult:
    """Train a network and record the energy each layer releases along the trajectory.

    Parameters
    ----------
    X, y
        Features (n, d), standardised by the caller, and target (n,): floats, or class codes
        0..K-1 for cross entropy.
    architecture
        The network's shape and loss.
    rng
        The only source of randomness: row sampling, initialization and shuffling. The same
        seed gives identical results.
    schedule, init
        Training schedule and initialization scheme.
    start
        Warm start: train from these parameters instead of drawing an initialization (a Type II
        refresh). Its architecture must equal ``architecture``.

    Returns
    -------
    TrainingResult

    Notes
    -----
    ``GD`` evaluates the exact gradient at every step, so its path integral follows the
    trajectory itself. Mini-batch optimizers would pay a full pass per step for that; they
    evaluate the energy and gradient on all training rows at ``schedule.checkpoints`` points
    instead, and integrate along the chords between them (the trapezoid rule is exact for a
    quadratic energy on each chord). The residual measures what that costs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = X[:, 0] - 2 * X[:, 1]
    >>> arch = Architecture(2, hidden=(4,), activation=Activation.IDENTITY)
    >>> result = train(X, y, arch, rng, schedule=Schedule(optimizer=Optimizer.GD, epochs=200))
    >>> result.energy_end < result.energy_start
    True
    >>> abs(result.residual) < 1e-3 * (result.energy_start - result.energy_end)
    True
    """
    if start is not None and start.architecture != architecture:
        raise OptionError(
            f"the warm-start network has architecture {start.architecture}; training asked for "
            f"{architecture}. Pass the reference network's architecture."
        )
    X, y = _check_data(architecture, X, y)
    rows_total = len(X)
    rows = sample_rows(rows_total, schedule.max_rows, rng)
    if rows is not None:
        X, y = X[rows], y[rows]
    laws = None
    if start is None:
        laws = initial_laws(architecture, init)
        start = Network.initial(architecture, init, rng)
    optimizer = Optimizer(schedule.optimizer)
    epochs = schedule.resolved_epochs(len(X))
    lr = schedule.resolved_learning_rate()
    if optimizer is Optimizer.GD:
        path = _train_full_batch(architecture, start.parameters, X, y, epochs, lr)
    else:
        path = _train_mini_batch(architecture, start.parameters, X, y, schedule, optimizer, epochs, lr, rng)
    theta, layer_energy, steps_at, energies = path
    return TrainingResult(
        network=Network(architecture, theta),
        start=start,
        laws=laws,
        layer_energy=layer_energy,
        energy_start=float(energies[0]),
        energy_end=float(energies[-1]),
        checkpoint_steps=steps_at,
        energy_path=energies,
        rows=rows,
        rows_total=rows_total,
        schedule=schedule,
        epochs=epochs,
        steps=int(steps_at[-1]),
        learning_rate=lr,
    )


def _train_full_batch(
    architecture: Architecture, theta0: np.ndarray, X: np.ndarray, y: np.ndarray, steps: int, lr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent with the exact gradient, integrating the energy at every step."""
    kernel = _Kernel(architecture, min(len(X), _CHUNK_ROWS))
    theta = np.array(theta0, dtype=np.float64)
    energy, grad = _energy_and_gradient(architecture, theta, X, y, kernel=kernel)
    layer_energy = np.zeros(architecture.n_layers)
    energies = [energy]
    for _ in range(steps):
        step = -lr * grad
        theta += step
        energy, new_grad = _energy_and_gradient(architecture, theta, X, y, kernel=kernel)
        layer_energy += _per_layer(architecture, 0.5 * (grad + new_grad) * step)
        grad = new_grad
        energies.append(energy)
    return theta, layer_energy, np.arange(steps + 1), np.asarray(energies)


def _train_mini_batch(
    architecture: Architecture,
    theta0: np.ndarray,
    X: np.ndarray,
    y: np.ndarray,
    schedule: Schedule,
    optimizer: Optimizer,
    epochs: int,
    lr: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mini-batch Adam or momentum SGD; the energy path is integrated over full-data checkpoints."""
    n = len(X)
    batch = min(schedule.batch_size, n)
    per_epoch = -(-n // batch)
    total = per_epoch * epochs
    marks = checkpoint_steps(total, schedule.checkpoints)
    full_kernel = _Kernel(architecture, min(n, _CHUNK_ROWS))
    kernel = _Kernel(architecture, batch)

    theta = np.array(theta0, dtype=np.float64)
    energy, full_grad = _energy_and_gradient(architecture, theta, X, y, kernel=full_kernel)
    mark_theta = theta.copy()
    layer_energy = np.zeros(architecture.n_layers)
    energies = [energy]

    grad = np.empty_like(theta)
    delta = np.empty((batch, architecture.n_outputs))
    first = np.zeros_like(theta)  # Adam's first moment, or the SGD velocity
    second = np.zeros_like(theta)
    work = np.empty_like(theta)
    Xs = np.empty_like(X)
    ys = np.empty_like(y)
    b1, b2, eps = schedule.beta1, schedule.beta2, schedule.epsilon
    step = 0
    next_mark = 0
    for _ in range(epochs):
        order = rng.permutation(n)
        # one gather per epoch, then contiguous slices: cheaper than a fancy index per batch
        np.take(X, order, axis=0, out=Xs)
        np.take(y, order, out=ys)
        for lo in range(0, n, batch):
            xb, yb = Xs[lo:lo + batch], ys[lo:lo + batch]
            z = kernel.forward(theta, xb)
            d = delta[:len(xb)]
            _output_score(architecture, z, yb, d)
            kernel.backward(theta, xb, d, grad, 1.0 / len(xb))
            step += 1
            if optimizer is Optimizer.ADAM:
                first *= b1
                first += (1.0 - b1) * grad
                np.multiply(grad, grad, out=work)
                work *= 1.0 - b2
                second *= b2
                second += work
                rate = lr * math.sqrt(1.0 - b2**step) / (1.0 - b1**step)
                np.sqrt(second, out=work)
                work += eps
                np.divide(first, work, out=work)
                work *= rate
                theta -= work
            else:
                first *= schedule.momentum
                first -= lr * grad
                theta += first
            if next_mark < len(marks) and step == marks[next_mark]:
                energy, new_grad = _energy_and_gradient(architecture, theta, X, y, kernel=full_kernel)
                np.subtract(theta, mark_theta, out=work)
                work *= 0.5 * (full_grad + new_grad)
                layer_energy += _per_layer(architecture, work)
                full_grad = new_grad
                mark_theta[:] = theta
                energies.append(energy)
                next_mark += 1
    return theta, layer_energy, np.concatenate([[0], marks]), np.asarray(energies)


# ------------------------------------------------------------------------------------------
# input checks


def _as_features(X: np.ndarray, architecture: Architecture) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != architecture.n_features:
        raise InputError(
            f"the features must be a 2-D array with {architecture.n_features} columns; got shape "
            f"{X.shape}. Pass the same columns the network was built for."
        )
    return X


def _check_data(architecture: Architecture, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and target as contiguous float64 arrays, checked against the architecture."""
    X = _as_features(X, architecture)
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if len(y) != len(X) or len(X) == 0:
        raise InputError(
            f"the features have {len(X)} rows and the target {len(y)}; both need the same, "
            f"positive number of rows."
        )
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise InputError("the features or the target hold NaN or infinite values; drop or impute those rows.")
    if architecture.is_classifier:
        k = architecture.n_classes
        if np.any(y != np.round(y)) or y.min() < 0 or y.max() > k - 1:
            raise InputError(
                f"a cross-entropy network needs class codes 0..{k - 1}; the target holds values "
                f"from {y.min():g} to {y.max():g}. Encode the classes as integers 0..K-1."
            )
    return X, y
