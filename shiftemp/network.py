"""A multilayer perceptron on numpy with explicit backpropagation, and the energy along its path.

The network is the model family of theory section 7 (a reconstruction of "On the Temperature of
Machine Learning Systems", Dong Zhang, arXiv 2404.13218; see ``docs/theory.md``, section 8). Training
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

import contextlib
import enum
import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
from scipy import special
from threadpoolctl import threadpool_limits

from .errors import InputError, OptionError
from .laws import DEFAULT_MIX, InitLaw, Law, make_law
from .models import Loss, residual_density_at_zero

__all__ = [
    "Activation",
    "Architecture",
    "BinaryOutput",
    "InitScheme",
    "Network",
    "Optimizer",
    "Schedule",
    "TrainingResult",
    "blas_threads",
    "checkpoint_steps",
    "fisher_diagonal",
    "gain",
    "initial_laws",
    "sample_rows",
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


# ------------------------------------------------------------------------------------------
# initialization: the laws are those of shiftemp.laws, one per layer, scaled by fan-in


@dataclass(frozen=True)
class InitScheme:
    """How each layer's initialization law is chosen.

    Parameters
    ----------
    kind
        The law's family (:class:`shiftemp.laws.InitLaw`). Every parameter of a layer, weights
        and biases, is drawn from the same law, so that every parameter has a finite
        initialization entropy.
    scale
        Standard deviation of every parameter in every layer. ``None`` (the default) uses the
        fan-in rule: variance ``gain / (fan_in + 1)``, the bias counted as an input (as
        :mod:`shiftemp.laws` does for linear models), with ``gain = 2`` for a layer whose inputs
        are relu outputs (He et al. 2015, exactly: every layer of a relu network but the first)
        and ``gain = 1`` otherwise (LeCun). Each layer's pre-activations then keep about the
        second moment of the standardised inputs.
    mix
        For ``MIXED``: the weight of the normal component. Both components get the same
        variance (uniform half-width ``sqrt(3)`` times the standard deviation), so all three
        laws have the variance the rule asks for and differ only in shape.
    """

    kind: InitLaw = InitLaw.NORMAL
    scale: float | None = None
    mix: float = DEFAULT_MIX

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", InitLaw(self.kind))

    def standard_deviation(self, fan_in: int, gain: float = 1.0) -> float:
        """Standard deviation of the parameters of a layer with ``fan_in`` inputs (bias excluded)."""
        if self.scale is not None:
            return float(self.scale)
        return math.sqrt(gain / (fan_in + 1))

    def law(self, fan_in: int, gain: float = 1.0) -> Law:
        """The law of the parameters of a layer with ``fan_in`` inputs (bias excluded).

        >>> InitScheme().law(3, gain=2.0)
        Normal(scale=0.7071067811865476)
        """
        sd = self.standard_deviation(fan_in, gain)
        mix = self.mix if self.kind is InitLaw.MIXED else None
        return make_law(self.kind, fan_in=fan_in + 1, scale=sd, mix=mix)


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
        blocks = [law.sample(rng, size) for law, size in zip(laws, architecture.layer_sizes)]
        return cls(architecture, np.concatenate(blocks))

    def weights(self, layer: int) -> np.ndarray:
        """Weights of ``layer``, (fan_in, fan_out)."""
        return _views(self.architecture, self.parameters)[layer][0]

    def bias(self, layer: int) -> np.ndarray:
        """Biases of ``layer``, (fan_out,)."""
        return _views(self.architecture, self.parameters)[layer][1]

    def output(self, X: np.ndarray) -> np.ndarray:
        """Raw outputs (n, n_outputs): the value, or the logits."""
        X = _as_features(X, self.architecture)
        out = np.empty((len(X), self.architecture.n_outputs))
        kernel = _Kernel(self.architecture, min(len(X), _CHUNK_ROWS))
        for start in range(0, len(X), _CHUNK_ROWS):
            out[start:start + _CHUNK_ROWS] = kernel.forward(self.parameters, X[start:start + _CHUNK_ROWS])
        return out

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


def initial_laws(architecture: Architecture, init: InitScheme) -> tuple[Law, ...]:
    """The initialization law of each layer, (L,)."""
    return tuple(init.law(architecture.sizes[i], gain(architecture, i)) for i in range(architecture.n_layers))


def gain(architecture: Architecture, layer: int) -> float:
    """The fan-in rule's gain of ``layer``: 2 when its inputs are relu outputs, else 1."""
    return 2.0 if layer > 0 and architecture.activation is Activation.RELU else 1.0


# ------------------------------------------------------------------------------------------
# numeric kernels: forward, backward, losses


def _activate(activation: Activation, Z: np.ndarray) -> None:
    """Apply the activation to ``Z`` in place."""
    if activation is Activation.RELU:
        np.maximum(Z, 0.0, out=Z)
    elif activation is Activation.TANH:
        # tanh z = 2 / (1 + e^-2z) - 1: one exp instead of numpy's tanh, which costs about two;
        # exact at both tails (e^-2z overflowing to inf gives -1), absolute error ~1e-16 near 0
        np.multiply(Z, -2.0, out=Z)
        np.exp(Z, out=Z)
        Z += 1.0
        np.divide(2.0, Z, out=Z)
        Z -= 1.0
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
        self.rows = rows
        self.acts = [np.empty((rows, w)) for w in architecture.sizes[1:]]
        self._backward_buffers: tuple[list[np.ndarray], list[np.ndarray], np.ndarray] | None = None
        self._views: dict[int, tuple[np.ndarray, list]] = {}

    def buffers(self) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Deltas, scratch and a ones vector for the backward pass, allocated on first use."""
        if self._backward_buffers is None:
            widths = self.arch.sizes[1:]
            deltas = [np.empty((self.rows, w)) for w in widths]
            tmp = [np.empty((self.rows, w)) for w in widths]
            # a product with a ones vector sums the rows faster than ndarray.sum(axis=0)
            self._backward_buffers = (deltas, tmp, np.ones(self.rows))
        return self._backward_buffers

    def views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W_l, b_l) views of ``flat``, cached: a training run reuses the same few buffers."""
        hit = self._views.get(id(flat))
        if hit is None or hit[0] is not flat:
            if len(self._views) > 8:
                self._views.clear()
            hit = (flat, _views(self.arch, flat))
            self._views[id(flat)] = hit
        return hit[1]

    def forward(self, flat: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Raw outputs (m, n_outputs) for the m rows of ``X``; fills the activation buffers."""
        m = len(X)
        views = self.views(flat)
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
        views = self.views(flat)
        grads = self.views(grad)
        deltas, tmp, ones = self.buffers()
        ones = ones[:m]
        if scale != 1.0:
            delta *= scale
        for i in range(self.arch.n_layers - 1, -1, -1):
            A_in = X if i == 0 else self.acts[i - 1][:m]
            gW, gb = grads[i]
            np.matmul(A_in.T, delta, out=gW)
            np.matmul(ones, delta, out=gb)
            if i > 0:
                below = deltas[i - 1][:m]
                np.matmul(delta, views[i][0].T, out=below)
                _times_derivative(self.arch.activation, A_in, below, tmp[i - 1][:m])
                delta = below

    def backward_squares(self, flat: np.ndarray, X: np.ndarray, delta: np.ndarray, fisher: np.ndarray) -> None:
        """Add ``sum_i (dl_i/dw_j)^2`` for every parameter j to ``fisher`` (flat).

        For a weight, ``dl_i/dW[j, k] = a_ij delta_ik``, so the sum over rows of its square is the
        matrix product ``(A^2)' (Delta^2)``: one extra product per layer, no per-row gradients.
        """
        m = len(X)
        views = self.views(flat)
        acc = self.views(fisher)
        deltas, tmp, _ = self.buffers()
        for i in range(self.arch.n_layers - 1, -1, -1):
            A_in = X if i == 0 else self.acts[i - 1][:m]
            fW, fb = acc[i]
            d2 = delta * delta
            fW += (A_in * A_in).T @ d2
            fb += d2.sum(axis=0)
            if i > 0:
                below = deltas[i - 1][:m]
                np.matmul(delta, views[i][0].T, out=below)
                _times_derivative(self.arch.activation, A_in, below, tmp[i - 1][:m])
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


def fisher_diagonal(network: Network, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``n F_jj``: the row-summed squared score of every parameter, (n_parameters,).

    The score is that of the likelihood the loss implies, so that the precision has the units of
    ``1 / parameter^2`` whatever the loss:

    - MSE: Gaussian noise with the residual variance ``sigma^2``: score ``r_i / sigma^2 * df_i/dw``;
    - MAE: Laplace noise with density ``f(0)`` at zero: score ``2 f(0) sign(r_i) df_i/dw``;
    - cross entropy: the loss is the negative log-likelihood: score ``dl_i/dw``.

    Notes
    -----
    ``F_jj = (1/n) sum_i s_ij^2`` is the empirical Fisher information; for a linear model its
    expectation over the noise is the diagonal of theory section 2's precisions (``X'X / sigma^2``
    for MSE, ``4 f(0)^2 X'X`` for MAE), and for MAE it is that diagonal exactly.
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
        gradient are evaluated, spaced geometrically in the step count (dense at the start, where
        the energy falls fastest). Each costs one pass over the energy rows.
    energy_rows
        Mini-batch optimizers: the energy along the path is the mean loss over at most this many
        training rows, a fixed sample drawn with the training ``rng`` (all rows when there are
        fewer, or for ``None``). The path integral and its residual then refer to that sample's
        energy, an unbiased estimate of the training energy whose sampling error, about
        ``sd(loss) / sqrt(energy_rows)``, is far below the layers' energies; it keeps the
        checkpoints cheap on large inputs. ``GD`` always uses every training row.
    path_tolerance
        Mini-batch optimizers: the path integral along the chord between two checkpoints is
        accepted when the layers' sum matches the chord's exact energy change to within this
        fraction of the larger of that change and the energy released so far over
        ``checkpoints``; otherwise the chord is refined (Simpson's rule, then bisection, at most
        ``max_bisections`` deep), one pass over the data per new point.
    max_bisections
        Depth limit of that refinement.
    blas_threads
        BLAS threads while training and analysing; ``None`` leaves BLAS alone. The default, 1,
        suits the small products of mini-batches, and avoids the multi-second stalls of
        multi-threaded OpenBLAS on a machine whose other cores are busy.
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
    checkpoints: int = 24
    energy_rows: int | None = 20_000
    path_tolerance: float = 2.5e-3
    max_bisections: int = 4
    blas_threads: int | None = 1

    def __post_init__(self):
        # named as the command line's options: `engine` and `compare --model mlp` pass them
        if self.epochs is not None and self.epochs < 1:
            raise OptionError(f"--epochs must be at least 1; got {self.epochs}.")
        if self.max_rows < 1:
            raise OptionError(f"--max-rows must be at least 1; got {self.max_rows}.")
        if self.batch_size < 1:
            raise OptionError(f"the mini-batch size must be at least 1; got {self.batch_size}.")

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
        The energy on the energy rows at the first and last point of the trajectory.
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
    energy_passes
        Passes over the energy rows spent on the energy path (checkpoints and refinements).
    energy_rows
        Rows the path's energy was evaluated on (see :attr:`Schedule.energy_rows`).
    """

    network: Network
    start: Network
    laws: tuple[Law, ...] | None
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
    energy_passes: int
    energy_rows: int
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


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[None]:
    """Limit BLAS to ``limit`` threads inside the block (no limit for ``None``)."""
    if limit is None:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


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
    layers: Sequence[int] | None = None,
    energy_sample: np.ndarray | None = None,
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
    layers
        Indices of the layers to train (0 is the first hidden layer, -1 the output layer);
        the others stay frozen and release no energy. ``None`` trains every layer.
    energy_sample
        Mini-batch optimizers: indices into the training rows (after any ``max_rows`` sampling)
        of the rows the path's energy is evaluated on, so that successive stages of a training
        share them; ``None`` draws them as :attr:`Schedule.energy_rows` says.

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
    >>> fine = Schedule(optimizer=Optimizer.GD, learning_rate=0.01, epochs=200)
    >>> result = train(X, y, arch, rng, schedule=fine)
    >>> result.energy_end < 1e-6 < result.energy_start
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
    mask = _trainable_mask(architecture, layers)
    optimizer = Optimizer(schedule.optimizer)
    epochs = schedule.resolved_epochs(len(X))
    lr = schedule.resolved_learning_rate()
    with blas_threads(schedule.blas_threads):
        if optimizer is Optimizer.GD:
            path = _train_full_batch(architecture, start.parameters, X, y, epochs, lr, mask)
        else:
            if energy_sample is None:
                energy_sample = sample_rows(len(X), schedule.energy_rows or len(X), rng)
            path = _train_mini_batch(
                architecture, start.parameters, X, y, schedule, optimizer, epochs, lr, rng, mask,
                energy_sample,
            )
    theta, layer_energy, steps_at, energies, passes, energy_rows = path
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
        energy_passes=passes,
        energy_rows=energy_rows,
    )


def _trainable_mask(architecture: Architecture, layers: Sequence[int] | None) -> np.ndarray | None:
    """1.0 for the parameters of the trainable layers, 0.0 elsewhere; ``None`` when all train."""
    if layers is None:
        return None
    n = architecture.n_layers
    chosen = set()
    for layer in layers:
        if not -n <= int(layer) < n:
            raise OptionError(f"layer {layer} does not exist; the network has layers 0..{n - 1}.")
        chosen.add(int(layer) % n)
    return np.repeat([1.0 if i in chosen else 0.0 for i in range(n)], architecture.layer_sizes)


def _train_full_batch(
    architecture: Architecture, theta0: np.ndarray, X: np.ndarray, y: np.ndarray, steps: int, lr: float,
    mask: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Gradient descent with the exact gradient, integrating the energy at every step."""
    kernel = _Kernel(architecture, min(len(X), _CHUNK_ROWS))
    theta = np.array(theta0, dtype=np.float64)
    energy, grad = _energy_and_gradient(architecture, theta, X, y, kernel=kernel)
    layer_energy = np.zeros(architecture.n_layers)
    energies = [energy]
    for _ in range(steps):
        step = -lr * grad if mask is None else -lr * grad * mask
        theta += step
        energy, new_grad = _energy_and_gradient(architecture, theta, X, y, kernel=kernel)
        layer_energy += _per_layer(architecture, 0.5 * (grad + new_grad) * step)
        grad = new_grad
        energies.append(energy)
    return theta, layer_energy, np.arange(steps + 1), np.asarray(energies), steps + 1, len(X)


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
    mask: np.ndarray | None,
    energy_sample: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Mini-batch Adam or momentum SGD; the energy path is integrated over full-data checkpoints."""
    n = len(X)
    batch = min(schedule.batch_size, n)
    per_epoch = -(-n // batch)
    total = per_epoch * epochs
    marks = checkpoint_steps(total, schedule.checkpoints)
    kernel = _Kernel(architecture, batch)
    X_energy, y_energy = (X, y) if energy_sample is None else (X[energy_sample], y[energy_sample])
    full_kernel = _Kernel(architecture, min(len(X_energy), _CHUNK_ROWS))

    theta = np.array(theta0, dtype=np.float64)
    chords = _ChordIntegrator(architecture, X_energy, y_energy, full_kernel, schedule, len(marks))
    energy, full_grad = chords.evaluate(theta)
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
            if mask is not None:
                grad *= mask
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
                new_energy, new_grad = chords.evaluate(theta)
                layer_energy += chords.integrate(mark_theta, theta, energy, new_energy, full_grad, new_grad)
                energy, full_grad = new_energy, new_grad
                mark_theta[:] = theta
                energies.append(energy)
                next_mark += 1
    return theta, layer_energy, np.concatenate([[0], marks]), np.asarray(energies), chords.passes, len(X_energy)


class _ChordIntegrator:
    """The per-layer path integral along the straight chord between two checkpoints.

    The energy is a potential, so the chord's layer terms must add up to its exact energy
    change: the mismatch is a free error estimate. A chord whose trapezoid sum misses is
    refined where it lies, by Simpson's rule with the exact gradient at its midpoint, then by
    bisection, which spends passes over the data only where the path bends.
    """

    def __init__(
        self, architecture: Architecture, X: np.ndarray, y: np.ndarray, kernel: _Kernel,
        schedule: Schedule, n_chords: int,
    ) -> None:
        self.arch, self.X, self.y, self.kernel = architecture, X, y, kernel
        self.rtol = schedule.path_tolerance
        self.depth = schedule.max_bisections
        self.n_chords = max(n_chords, 1)
        self.passes = 0
        self.start_energy: float | None = None
        self.lowest = math.inf

    def evaluate(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Energy and gradient on all training rows at ``theta``."""
        self.passes += 1
        energy, grad = _energy_and_gradient(self.arch, theta, self.X, self.y, kernel=self.kernel)
        if self.start_energy is None:
            self.start_energy = energy
        self.lowest = min(self.lowest, energy)
        return energy, grad

    def integrate(
        self, theta_a: np.ndarray, theta_b: np.ndarray, energy_a: float, energy_b: float,
        grad_a: np.ndarray, grad_b: np.ndarray,
    ) -> np.ndarray:
        """Per-layer ``int g_l . dw_l`` from ``theta_a`` to ``theta_b``, (L,)."""
        released = self.start_energy - self.lowest
        floor = released / self.n_chords
        return self._segment(theta_a, theta_b, energy_a, energy_b, grad_a, grad_b, floor, self.depth)

    def _segment(self, ta, tb, ea, eb, ga, gb, floor: float, depth: int) -> np.ndarray:
        step = tb - ta
        change = eb - ea
        tolerance = self.rtol * max(abs(change), floor)
        trapezoid = _per_layer(self.arch, 0.5 * (ga + gb) * step)
        if abs(trapezoid.sum() - change) <= tolerance or depth == 0:
            return trapezoid
        tm = 0.5 * (ta + tb)
        em, gm = self.evaluate(tm)
        simpson = _per_layer(self.arch, (ga + 4.0 * gm + gb) * step / 6.0)
        if abs(simpson.sum() - change) <= tolerance:
            return simpson
        return self._segment(ta, tm, ea, em, ga, gm, 0.5 * floor, depth - 1) + self._segment(
            tm, tb, em, eb, gm, gb, 0.5 * floor, depth - 1
        )


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
