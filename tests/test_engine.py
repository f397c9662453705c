"""Networks as heat engines: work efficiency, engine types, temperatures, the Type II refresh."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.datasets import make_moons

from shiftemp.engine import (
    EngineType,
    LayerTransition,
    RefreshPath,
    carnot_bound,
    compare_activations,
    engine,
    expected_initial_energy,
    laplace_entropies,
    linear_energy,
    point_temperature,
    refresh,
)
from shiftemp.laws import InitLaw
from shiftemp.models import Loss
from shiftemp.network import Activation, Architecture, InitScheme, Network, Schedule, fisher_diagonal

#: Short schedule for the tests: 4 batches of 100 rows per epoch, 600 Adam steps.
QUICK = Schedule(learning_rate=0.01, batch_size=100, epochs=150)


def standardised(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="module")
def moons() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(400, noise=0.15, random_state=0)
    return standardised(X), y.astype(float)


@pytest.fixture(scope="module")
def sine() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.uniform(-1.5, 1.5, size=(400, 1))
    return standardised(x), np.sin(3 * x[:, 0]) + 0.05 * rng.normal(size=400)


@pytest.fixture(scope="module")
def relu_moons(moons):
    X, y = moons
    return engine(X, y, np.random.default_rng(0), hidden=(16, 16), activation=Activation.RELU,
                  loss=Loss.CE, schedule=QUICK)


# ------------------------------------------------------------------------------------------
# the two engine types


def test_identity_network_does_no_work(moons, sine):
    for (X, y), loss in [(moons, Loss.CE), (sine, Loss.MSE)]:
        report = engine(X, y, np.random.default_rng(1), hidden=(16, 16), activation=Activation.IDENTITY,
                        loss=loss, schedule=QUICK)
        assert report.efficiency <= 0.01
        assert report.engine_type is EngineType.NON_WORKING
        assert "affine map" in report.engine_reason
        # an affine network cannot beat the best affine model by more than optimiser noise
        assert report.work <= 1e-3 * report.heat


def test_relu_network_on_moons_is_a_working_engine(relu_moons):
    report = relu_moons
    assert report.efficiency >= 0.2
    assert report.engine_type is EngineType.WORKING
    assert 0.0 <= report.efficiency <= 1.0
    assert report.heat > report.work > 0
    assert "working engine" in report.summary and "relu" in report.summary


def test_relu_network_on_a_sine_is_a_working_engine(sine):
    X, y = sine
    report = engine(X, y, np.random.default_rng(2), hidden=(16, 16), activation=Activation.RELU, schedule=QUICK)
    assert report.efficiency >= 0.2
    assert report.engine_type is EngineType.WORKING


@pytest.mark.parametrize("activation", list(Activation))
@pytest.mark.parametrize("loss", [Loss.MSE, Loss.MAE, Loss.CE])
def test_efficiency_stays_in_the_unit_interval(moons, sine, activation, loss):
    X, y = moons if loss is Loss.CE else sine
    short = Schedule(learning_rate=0.01, batch_size=100, epochs=10)
    report = engine(X, y, np.random.default_rng(3), hidden=(8,), activation=activation, loss=loss, schedule=short)
    assert 0.0 <= report.efficiency <= 1.0
    if report.carnot_bound is not None:
        assert report.under_carnot == (report.efficiency <= report.carnot_bound)


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.MAE, Loss.CE])
def test_expected_initial_energy_exceeds_the_linear_optimum(loss):
    # Jensen: the output layer is drawn with mean zero, so E_A >= E(constant) >= E_linear*, and
    # W <= Q without clipping. The worst case: the target is one draw of the initial network.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    arch = Architecture(2, (16,), Activation.TANH, loss, 2 if loss is Loss.CE else None)
    teacher = Network.initial(arch, InitScheme(scale=1.5), np.random.default_rng(9))
    if loss is Loss.CE:
        y = (teacher.predict(X)[:, 1] > rng.uniform(size=300)).astype(float)
    else:
        y = teacher.predict(X) + 0.05 * rng.normal(size=300)
    e_a, se = expected_initial_energy(arch, InitScheme(scale=1.5), X, y, np.random.default_rng(1))
    assert e_a - 3 * se > linear_energy(X, y, loss)
    assert e_a - 3 * se > float(np.mean(teacher.loss_per_row(X, y)))  # a lucky draw is no E_A


def test_same_seed_same_report(moons):
    X, y = moons
    a = engine(X, y, np.random.default_rng(5), hidden=(8,), activation=Activation.TANH, loss=Loss.CE, schedule=QUICK)
    b = engine(X, y, np.random.default_rng(5), hidden=(8,), activation=Activation.TANH, loss=Loss.CE, schedule=QUICK)
    assert a.to_dict() == b.to_dict()
    np.testing.assert_array_equal(a.network.parameters, b.network.parameters)


# ------------------------------------------------------------------------------------------
# layers, temperatures and the report


def test_layers_add_up_and_temperatures_are_ratios(relu_moons):
    report = relu_moons
    t = report.transition
    assert [layer.name for layer in report.layers] == ["hidden 1", "hidden 2", "output"]
    assert sum(layer.energy_change for layer in report.layers) == pytest.approx(t.layer_energy_sum)
    assert abs(t.residual) <= 0.01 * abs(t.energy_change)
    assert sum(layer.share for layer in report.layers) == pytest.approx(1.0)
    assert t.entropy_change == pytest.approx(sum(layer.entropy_change for layer in report.layers))
    for layer in report.layers:
        assert layer.temperature.status == "finite"
        assert layer.temperature.value == pytest.approx(layer.energy_change / layer.entropy_change)
    assert t.temperature.value == pytest.approx(t.energy_change / t.entropy_change)
    assert report.training.steps == 600 and report.training.rows_used == 400 and not report.training.sampled


def test_report_is_json_safe(relu_moons):
    data = relu_moons.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["engine_type"] == "working"
    assert "network" not in data
    assert data["layers"][0]["temperature"]["status"] == "finite"


@pytest.mark.parametrize(
    "d_energy, d_entropy, status, value, sign",
    [(-0.5, -2.0, "finite", 0.25, 1), (-0.5, 1.0, "finite", -0.5, -1), (-0.5, 1e-12, "infinite", None, -1),
     (0.3, 0.0, "infinite", None, 1), (1e-16, 1e-12, "undefined", None, 0)],
)
def test_point_temperature_never_divides_by_a_vanishing_entropy(d_energy, d_entropy, status, value, sign):
    t = point_temperature(d_energy, d_entropy, energy_scale=1.0, n_parameters=100)
    assert (t.status, t.value, t.sign) == (status, value, sign)


def layer(name: str, value: float | None, status: str = "finite") -> LayerTransition:
    t = point_temperature(-1.0, -1.0 / value, energy_scale=1.0, n_parameters=1) if value else \
        point_temperature(-1.0, 0.0, energy_scale=1.0, n_parameters=1)
    return LayerTransition(name, 1, -1.0, 0.5, 0.0, 0.0, 0.0, t, 1.0)


def test_carnot_bound_over_positive_temperatures():
    assert carnot_bound([layer("a", 0.5), layer("b", 2.0), layer("c", -1.0)]) == (0.75, "finite")
    assert carnot_bound([layer("a", 0.5), layer("b", None)])[0] == 0.0
    bound, status = carnot_bound([layer("a", -0.5), layer("b", None)])
    assert bound is None and "no layer" in status


def test_uninformed_parameters_keep_their_initial_entropy():
    # a zero feature column: the Fisher information of its weight is 0, so with the
    # initialization law as the prior, its Laplace entropy is the law's entropy (normal law)
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.normal(size=200), np.zeros(200)])
    y = X[:, 0] + 0.1 * rng.normal(size=200)
    report = engine(X, y, rng, hidden=(), activation=Activation.IDENTITY, schedule=QUICK)
    fisher = fisher_diagonal(report.network, X, y)  # (w_a, w_zero, bias)
    assert fisher[1] == 0.0 and fisher[0] > 0
    ridge = report.layers[0].ridge
    law = InitScheme().law(2)
    assert ridge == pytest.approx(1.0 / law.variance)
    assert 0.5 * math.log(2 * math.pi * math.e / (fisher[1] + ridge)) == pytest.approx(law.entropy())


def test_linear_energy_is_least_squares():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + rng.normal(size=100)
    D = np.column_stack([np.ones(100), X])
    coef = np.linalg.lstsq(D, y, rcond=None)[0]
    assert linear_energy(X, y, Loss.MSE) == pytest.approx(np.mean((y - D @ coef) ** 2), rel=1e-6)


def test_compare_activations_reports_each_on_the_same_rows(sine):
    X, y = sine
    short = Schedule(learning_rate=0.01, batch_size=100, epochs=5, max_rows=300)
    comparison = compare_activations(X, y, np.random.default_rng(8), hidden=(8,), schedule=short)
    assert [r.activation for r in comparison.reports] == list(Activation)
    assert set(comparison.efficiency()) == {"identity", "relu", "tanh", "logistic"}
    # one row sample for all: the linear baseline is the same model on the same rows
    assert len({r.linear_energy for r in comparison.reports}) == 1
    assert json.dumps(comparison.to_dict(), allow_nan=False)


def test_uniform_and_mixed_initializations_report_their_law(sine):
    X, y = sine
    short = Schedule(learning_rate=0.01, batch_size=100, epochs=5)
    for kind in (InitLaw.UNIFORM, InitLaw.MIXED):
        report = engine(X, y, np.random.default_rng(9), hidden=(8,), activation=Activation.TANH,
                        init=InitScheme(kind), schedule=short)
        law = InitScheme(kind).law(1)
        assert report.init == kind.value
        assert report.layers[0].entropy_start == pytest.approx(report.layers[0].n_parameters * law.entropy())


# ------------------------------------------------------------------------------------------
# Type II refresh


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(400, 2))
    y = np.sin(2 * X[:, 0]) + 0.05 * rng.normal(size=400)
    report = engine(X, y, np.random.default_rng(0), hidden=(16, 16), activation=Activation.TANH, schedule=QUICK)
    return X, y, report.network


def test_output_mapping_shift_is_absorbed_by_the_output_layer(reference):
    X, y, network = reference
    shifted = 2.0 * y - 1.0  # a concept shift confined to the output mapping
    report = refresh(network, X, shifted, np.random.default_rng(1), schedule=QUICK)
    assert report.output_share >= 0.9
    assert report.output_layer_suffices
    assert "output layer alone is enough" in report.summary
    assert report.transition.energy_change < 0
    assert abs(report.transition.residual) <= 0.01 * abs(report.transition.energy_change)
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_a_shift_in_the_input_mapping_reaches_the_hidden_layers(reference):
    X, y, network = reference
    shifted = np.sin(2 * X[:, 1])  # the target now depends on the feature the network ignored
    report = refresh(network, X, shifted, np.random.default_rng(1), schedule=QUICK)
    assert report.output_share < 0.9
    assert not report.output_layer_suffices
    assert "refresh the whole network" in report.summary


def test_joint_refresh_path_and_no_shift(reference):
    X, y, network = reference
    joint = refresh(network, X, 2.0 * y - 1.0, np.random.default_rng(1), schedule=QUICK, path=RefreshPath.JOINT)
    assert joint.path is RefreshPath.JOINT
    assert abs(joint.transition.residual) <= 0.01 * abs(joint.transition.energy_change)
    assert joint.transition.energy_start == pytest.approx(network.energy(X, 2.0 * y - 1.0))
    # the refresh starts from the reference: its layer entropies at A use the shifted rows
    assert joint.layers[0].entropy_start == pytest.approx(
        laplace_entropies(network, X, 2.0 * y - 1.0, [layer.ridge for layer in joint.layers])[0]
    )
