from daekit import check_component
from daekit_vignette import Vignette


def test_vignette_conforms(tmp_path):
    check_component(Vignette, tmp_path, seed=1)


def test_every_severity_conforms(tmp_path):
    for level in range(1, 6):
        check_component(Vignette(severity=level), tmp_path)
