"""Property tests: whatever text, TOML or bytes a user hands them, the component-spec parser,
the config loader and the IDX reader either read it or raise daekit's own error, never
anything else."""

import gzip
import string
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import daekit
from daekit.config import ComponentSpec, load_toml
from daekit.data.idx import read_idx
from daekit.errors import ConfigError, DaekitError, DataError

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPEC_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "_:=,[]| .-+e", max_size=40)
NAME = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10)
VALUE = st.one_of(st.integers(-1000, 1000).map(str), st.floats(-10, 10, allow_nan=False).map(lambda v: f"{v:.4g}"),
                  st.sampled_from(["true", "false", "noise", "uniform"]))


@QUICK
@given(SPEC_TEXT)
def test_any_spec_text_parses_or_raises_a_config_error(text):
    try:
        spec = ComponentSpec.parse(text)
    except ConfigError:
        return
    assert isinstance(spec, ComponentSpec)


@QUICK
@given(NAME, st.dictionaries(NAME, VALUE, max_size=4))
def test_written_specs_parse_back_to_themselves(name, options):
    spec = ComponentSpec(name, options)
    assert ComponentSpec.parse(str(spec)) == spec


@QUICK
@given(st.sampled_from(["corruption", "encoder", "decoder", "loss"]), SPEC_TEXT)
def test_any_spec_builds_or_raises_a_config_error(kind, text):
    try:
        daekit.TrainConfig.resolve(**{kind: text})
    except ConfigError:
        pass


TOML_SCALAR = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.booleans(),
                        st.text(max_size=12), st.lists(st.integers(-5, 5), max_size=3))
FIELDS = ["epochs", "batch_size", "seed", "learning_rate", "corruption", "encoder", "loss", "patch", "target",
          "pairs", "strategy", "precision", "augment", "validation_split", "name", "output", "limit", "preset"]


@QUICK
@given(st.dictionaries(st.sampled_from(FIELDS + ["unknown_key"]), TOML_SCALAR, max_size=5))
def test_any_config_values_resolve_or_raise_a_config_error(values):
    try:
        config = daekit.TrainConfig.resolve(**values)
    except ConfigError:
        return
    assert isinstance(config, daekit.TrainConfig)


@QUICK
@given(st.binary(max_size=200))
def test_any_config_file_loads_or_raises_a_config_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_bytes(data)
        try:
            values = load_toml(path)
            daekit.TrainConfig.resolve(file=path)
        except ConfigError:
            return
        assert isinstance(values, dict)


def idx_header(type_code, sizes):
    return bytes([0, 0, type_code, len(sizes)]) + b"".join(int(size).to_bytes(4, "big") for size in sizes)


IDX_FILES = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda code, sizes, body: idx_header(code, sizes) + body,
              st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
              st.lists(st.integers(0, 6), min_size=0, max_size=4), st.binary(max_size=300)),
)


@QUICK
@given(IDX_FILES, st.booleans(), st.sampled_from([None, 1, 3]))
def test_any_idx_bytes_read_or_raise_a_data_error(data, compressed, ndim):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("file.idx.gz" if compressed else "file.idx")
        path.write_bytes(gzip.compress(data) if compressed and len(data) % 2 else data)  # odd: valid gzip; even: not
        try:
            array = read_idx(path, ndim=ndim)
        except DataError:
            return
        assert isinstance(array, np.ndarray) and (ndim is None or array.ndim == ndim)


def test_daekit_errors_are_one_family():
    assert issubclass(ConfigError, DaekitError) and issubclass(DataError, DaekitError)
