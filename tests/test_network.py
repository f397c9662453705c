"""The multilayer perceptron: gradients, Fisher information, initialization laws, training path.

Every network here is tiny and every schedule short, so the file runs in seconds on a busy
two-core machine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftemp.errors import InputError, OptionError
from shiftemp.laws import InitLaw, Mixed, Normal, Uniform
from shiftemp.models import Loss
from shiftemp.network import (
    Activation,
    Architecture,
    BinaryOutput,
    InitScheme,
    Network,
    Optimizer,
    Schedule,
    checkpoint_steps,
    fisher_diagonal,
    initial_laws,
    train,
)

OUTPUTS = [
    pytest.param(Loss.MSE, None, BinaryOutput.SIGMOID, id="mse"),
    pytest.param(Loss.MAE, None, BinaryOutput.SIGMOID, id="mae"),
    pytest.param(Loss.CE, 2, BinaryOutput.SIGMOID, id="ce-sigmoid"),
    pytest.param(Loss.CE, 2, BinaryOutput.SOFTMAX, id="ce-softmax2"),
    pytest.param(Loss.CE, 3, BinaryOutput.SOFTMAX, id="ce-softmax3"),
]


def data(rng: np.random.Generator, n: int, d: int, n_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, d))
    y = rng.integers(0, n_classes, size=n).astype(float) if n_classes else rng.normal(size=n)
    return X, y


def with_parameters(network: Network, flat: np.ndarray) -> Network:
    return Network(network.architecture, flat)


# ------------------------------------------------------------------------------------------
# gradients and Fisher information


@pytest.mark.parametrize("activation", list(Activation))
@pytest.mark.parametrize("loss, n_classes, binary", OUTPUTS)
def test_gradient_matches_central_differences(activation, loss, n_classes, binary):
    rng = np.random.default_rng(7)
    arch = Architecture(3, (5, 4), activation, loss, n_classes, binary)
    X, y = data(rng, 40, 3, n_classes)
    net = Network.initial(arch, InitScheme(), rng)
    analytic = net.gradient(X, y)
    h = 1e-6
    numeric = np.empty_like(analytic)
    for j in range(arch.n_parameters):
        up, down = net.parameters.copy(), net.parameters.copy()
        up[j] += h
        down[j] -= h
        numeric[j] = (with_parameters(net, up).energy(X, y) - with_parameters(net, down).energy(X, y)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, atol=1e-7 * max(1.0, np.abs(analytic).max()))


@pytest.mark.parametrize("loss, n_classes, binary", OUTPUTS)
def test_fisher_diagonal_sums_squared_per_row_scores(loss, n_classes, binary):
    rng = np.random.default_rng(3)
    arch = Architecture(2, (4,), Activation.TANH, loss, n_classes, binary)
    X, y = data(rng, 25, 2, n_classes)
    net = Network.initial(arch, InitScheme(), rng)
    per_row = np.array([net.gradient(X[i:i + 1], y[i:i + 1]) for i in range(len(X))])  # dl_i/dw
    if loss is Loss.CE:
        scores = per_row
    else:
        r = y - net.predict(X)
        if loss is Loss.MSE:
            scores = per_row / (2.0 * np.mean(r * r))  # dl/dw = -2 r df/dw; score = r/sigma^2 df/dw
        else:
            from shiftemp.models import residual_density_at_zero

            scores = per_row * 2.0 * residual_density_at_zero(r)  # dl/dw = -sign(r) df/dw
    np.testing.assert_allclose(fisher_diagonal(net, X, y), (scores**2).sum(axis=0), rtol=1e-10, atol=1e-12)


def test_predict_gives_probabilities_for_classifiers():
    rng = np.random.default_rng(0)
    for n_classes, binary in [(2, BinaryOutput.SIGMOID), (2, BinaryOutput.SOFTMAX), (4, BinaryOutput.SOFTMAX)]:
        net = Network.initial(Architecture(3, (5,), Activation.RELU, Loss.CE, n_classes, binary), InitScheme(), rng)
        p = net.predict(rng.normal(size=(10, 3)))
        assert p.shape == (10, n_classes)
        np.testing.assert_allclose(p.sum(axis=1), 1.0)


# ------------------------------------------------------------------------------------------
# initialization laws


@pytest.mark.parametrize("activation", list(Activation))
@pytest.mark.parametrize("kind", list(InitLaw))
def test_fan_in_rule_and_closed_form_entropies(activation, kind):
    arch = Architecture(15, (16, 8), activation)
    laws = initial_laws(arch, InitScheme(kind, mix=0.3))
    relu = activation is Activation.RELU
    # variance gain / (fan_in + 1): the first layer sees standardised inputs, later layers of a
    # relu network see relu outputs (gain 2)
    variances = [1.0 / 16, (2.0 if relu else 1.0) / 17, (2.0 if relu else 1.0) / 9]
    for law, variance in zip(laws, variances):
        s = math.sqrt(variance)
        assert law.variance == pytest.approx(variance, rel=1e-12)
        if kind is InitLaw.NORMAL:
            assert law == Normal(s)
            assert law.entropy() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * s * s), abs=1e-12)
        elif kind is InitLaw.UNIFORM:
            assert law == Uniform(math.sqrt(3.0) * s)
            assert law.entropy() == pytest.approx(math.log(2 * math.sqrt(3.0) * s), abs=1e-12)
        else:
            assert law == Mixed(0.3, s, math.sqrt(3.0) * s)


@pytest.mark.parametrize("weight, scale, half_width", [(0.5, 1.0, math.sqrt(3.0)), (0.2, 0.1, 2.0), (0.9, 3.0, 0.5)])
def test_mixed_entropy_matches_fine_quadrature(weight, scale, half_width):
    from scipy.integrate import simpson
    from scipy.special import xlogy

    def normal_part(x):
        return weight * np.exp(-0.5 * (x / scale) ** 2) / (scale * math.sqrt(2 * math.pi))

    # Simpson on each smooth piece (the density jumps at +-a), far beyond the normal tail
    inner = np.linspace(0.0, half_width, 200_001)
    outer = np.linspace(half_width, half_width + 40 * scale, 400_001)
    p_inner = normal_part(inner) + (1 - weight) / (2 * half_width)
    p_outer = normal_part(outer)
    expected = -2 * (simpson(xlogy(p_inner, p_inner), x=inner) + simpson(xlogy(p_outer, p_outer), x=outer))
    law = Mixed(weight, scale, half_width)
    assert law.entropy() == pytest.approx(expected, abs=1e-8)
    low, high = law.entropy_bounds()
    assert low <= law.entropy() <= high


def test_initial_network_draws_each_layer_from_its_law():
    arch = Architecture(400, (300,), Activation.RELU)
    net = Network.initial(arch, InitScheme(InitLaw.UNIFORM), np.random.default_rng(1))
    laws = initial_laws(arch, InitScheme(InitLaw.UNIFORM))
    hidden = np.concatenate([net.weights(0).ravel(), net.bias(0)])
    assert np.abs(hidden).max() <= laws[0].half_width
    assert hidden.var() == pytest.approx(laws[0].variance, rel=0.02)


# ------------------------------------------------------------------------------------------
# the training path


def sine(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-1.5, 1.5, size=(n, 1))
    return x / x.std(), np.sin(3 * x[:, 0]) + 0.05 * rng.normal(size=n)


@pytest.mark.parametrize("activation", [Activation.TANH, Activation.RELU])
def test_layer_energies_add_up_with_fine_full_batch_steps(activation):
    rng = np.random.default_rng(5)
    X, y = sine(rng, 200)
    arch = Architecture(1, (8, 8), activation)
    result = train(X, y, arch, rng, schedule=Schedule(Optimizer.GD, learning_rate=0.01, epochs=400))
    released = result.energy_start - result.energy_end
    assert released > 0.1
    assert abs(result.layer_energy.sum() - (result.energy_end - result.energy_start)) <= 0.01 * released
    assert abs(result.residual) <= 0.01 * released
    assert result.energy_passes == 401 and len(result.energy_path) == 401


def test_mini_batch_path_integral_meets_its_tolerance():
    rng = np.random.default_rng(6)
    X, y = sine(rng, 400)
    arch = Architecture(1, (16, 16), Activation.TANH)
    schedule = Schedule(learning_rate=0.01, batch_size=50, epochs=40)
    result = train(X, y, arch, rng, schedule=schedule)
    released = result.energy_start - result.energy_end
    assert released > 0.1
    assert abs(result.residual) <= 0.01 * released
    assert result.steps == 8 * 40
    assert result.checkpoint_steps[0] == 0 and result.checkpoint_steps[-1] == result.steps


def test_same_seed_same_result_and_other_seed_differs():
    X, y = sine(np.random.default_rng(0), 300)
    arch = Architecture(1, (8,), Activation.LOGISTIC)
    schedule = Schedule(learning_rate=0.01, batch_size=64, epochs=5)
    a = train(X, y, arch, np.random.default_rng(42), schedule=schedule)
    b = train(X, y, arch, np.random.default_rng(42), schedule=schedule)
    c = train(X, y, arch, np.random.default_rng(43), schedule=schedule)
    np.testing.assert_array_equal(a.network.parameters, b.network.parameters)
    np.testing.assert_array_equal(a.layer_energy, b.layer_energy)
    assert a.energy_end == b.energy_end
    assert not np.array_equal(a.network.parameters, c.network.parameters)


def test_large_inputs_are_sampled_and_reported():
    rng = np.random.default_rng(1)
    X, y = sine(rng, 1000)
    arch = Architecture(1, (4,), Activation.TANH)
    schedule = Schedule(epochs=1, max_rows=300)
    result = train(X, y, arch, np.random.default_rng(2), schedule=schedule)
    assert result.sampled and result.rows_used == 300 and result.rows_total == 1000
    assert len(np.unique(result.rows)) == 300
    again = train(X, y, arch, np.random.default_rng(2), schedule=schedule)
    np.testing.assert_array_equal(result.rows, again.rows)
    small = train(X[:200], y[:200], arch, rng, schedule=schedule)
    assert not small.sampled and small.rows is None and small.rows_used == 200


def test_warm_start_and_frozen_layers():
    rng = np.random.default_rng(4)
    X, y = sine(rng, 200)
    arch = Architecture(1, (6, 6), Activation.TANH)
    first = train(X, y, arch, rng, schedule=Schedule(learning_rate=0.01, epochs=5))
    second = train(X, 2 * y, arch, rng, schedule=Schedule(learning_rate=0.01, epochs=5), start=first.network, layers=[-1])
    assert second.laws is None
    np.testing.assert_array_equal(second.start.parameters, first.network.parameters)
    assert second.energy_start == pytest.approx(first.network.energy(X, 2 * y))
    # the hidden layers did not move and released nothing
    for layer in (0, 1):
        np.testing.assert_array_equal(second.network.weights(layer), first.network.weights(layer))
        assert second.layer_energy[layer] == 0.0
    assert second.layer_energy[-1] < 0
    other = Architecture(1, (5, 6), Activation.TANH)
    with pytest.raises(OptionError, match="warm-start network"):
        train(X, y, other, rng, start=first.network)
    with pytest.raises(OptionError, match="layer 3 does not exist"):
        train(X, y, arch, rng, layers=[3])


def test_bad_inputs_say_what_to_do():
    arch = Architecture(2, (3,), Activation.RELU, Loss.CE, 2)
    X = np.zeros((4, 2))
    with pytest.raises(InputError, match=r"class codes 0\.\.1.*Encode the classes"):
        train(X, np.array([0, 1, 2, 1]), arch, np.random.default_rng(0))
    with pytest.raises(InputError, match="2 columns"):
        Network.initial(arch, InitScheme(), np.random.default_rng(0)).predict(np.zeros((4, 3)))
    with pytest.raises(OptionError, match="n_classes >= 2"):
        Architecture(2, (3,), Activation.RELU, Loss.CE)


def test_default_schedule_rule():
    schedule = Schedule()
    assert schedule.resolved_epochs(100_000) == 20  # 500 steps per epoch
    assert schedule.resolved_epochs(1_000) == 1000  # 5 steps per epoch, capped
    assert schedule.resolved_epochs(10_000_000) == 10  # floor
    assert Schedule(Optimizer.GD).resolved_learning_rate() == 0.1


@settings(max_examples=50, deadline=None)
@given(total=st.integers(1, 100_000), count=st.integers(1, 200))
def test_checkpoints_increase_and_end_at_the_last_step(total, count):
    steps = checkpoint_steps(total, count)
    assert steps[0] >= 1 and steps[-1] == total
    assert np.all(np.diff(steps) > 0)
    assert len(steps) <= max(count, 2) + 1
