import pytest

from daekit.config import ComponentSpec, TrainConfig, dump_toml, load_toml
from daekit.errors import ConfigError


def test_component_syntax_keeps_lists_together():
    spec = ComponentSpec.parse("conv:filters=8,16,32,tail_filters=8")
    assert spec.name == "conv"
    assert spec.options == {"filters": "8,16,32", "tail_filters": "8"}
    assert ComponentSpec.parse(str(spec)) == spec


def test_component_syntax_errors():
    with pytest.raises(ConfigError, match="expected key=value"):
        ComponentSpec.parse("gaussian:0.1")
    with pytest.raises(ConfigError, match="name is missing"):
        ComponentSpec.parse(":stddev=0.1")


def test_article_preset_is_the_classic_recipe():
    config = TrainConfig.resolve(preset="article")
    assert (config.learning_rate, config.beta_1, config.beta_2) == (3e-6, 0.99, 0.999)
    assert (config.batch_size, config.epochs, config.optimizer) == (64, 20, "adam")
    assert str(config.corruption) == "gaussian:stddev=0.1"
    assert str(config.decoder) == "conv" and str(config.loss) == "mse"


def test_every_bad_field_is_listed_at_once():
    with pytest.raises(ConfigError) as caught:
        TrainConfig.resolve(epochs="zero", batch_size="-3", learning_rate="0", optimizer="adamax", colour="red")
    text = str(caught.value)
    for fragment in ("epochs='zero'", "batch_size='-3'", "learning_rate='0'", "optimizer='adamax'", "unknown option 'colour'"):
        assert fragment in text
    assert len(caught.value.problems) == 5


@pytest.mark.parametrize("field, value", [
    ("learning_rate", "0"), ("learning_rate", "inf"), ("learning_rate", "nan"), ("beta_1", "1.5"), ("seed", "-1"),
    ("validation_split", "0.9"), ("validation_split", "0"), ("channels", "2"), ("resize", "2"), ("patch", "1"),
    ("patches_per_epoch", "0"), ("limit", "1"), ("test_limit", "0"), ("jit_compile", "maybe"),
    ("steps_per_execution", "0"), ("prefetch", "-2"), ("strategy", "cluster"), ("cpu_devices", "-1"),
    ("checkpoint_every", "-1"), ("deterministic", "perhaps"), ("optimizer", "lbfgs"), ("schedule", "step"),
    ("target", "dirty"), ("augment", "rotate"), ("max_pixels", "0"), ("max_pixels", "1e400"),
])
def test_every_setting_refuses_what_it_cannot_use_with_what_it_takes(field, value):
    # As the command line passes them: text. tests/test_torture.py runs a few through the CLI.
    with pytest.raises(ConfigError) as caught:
        TrainConfig.resolve(**{field: value})
    (problem,) = caught.value.problems
    assert f"{field}='{value}'" in problem and ("must be" in problem or "expected" in problem), problem


def test_a_seed_numpy_cannot_take_is_refused_with_the_range():
    assert TrainConfig.resolve(seed=2**32 - 1).seed == 2**32 - 1
    with pytest.raises(ConfigError, match="seed=4294967296: must be <= 4294967295"):
        TrainConfig.resolve(seed=2**32)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        TrainConfig.resolve(preset="fast")


def test_toml_file_then_flags(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('preset = "article"\nepochs = 2\n[corruption]\nname = "gaussian"\nstddev = 0.3\n')
    config = TrainConfig.resolve(file=path, epochs="5")
    assert config.epochs == 5
    assert config.learning_rate == 3e-6
    assert config.corruption.options == {"stddev": 0.3}


def test_resolved_config_round_trips_through_toml(tmp_path):
    config = TrainConfig.resolve(decoder="conv:filters=16,8,tail_filters=8", limit="300")
    path = tmp_path / "config.toml"
    path.write_text(dump_toml(config.to_dict()))
    assert TrainConfig.resolve(file=path) == config


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_toml(path)
    with pytest.raises(ConfigError, match="missing.toml"):
        TrainConfig.resolve(file=tmp_path / "missing.toml")
