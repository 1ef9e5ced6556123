"""Figures keep their text inside the canvas."""

from matplotlib.backends.backend_agg import FigureCanvasAgg

from daekit.figures import loss_curves, wrap_title

LONG = ("unet:filters=64,128,convs=3,activation=silu,space_to_depth=2 / "
        "unet:filters=64,convs=3,activation=silu,space_to_depth=2,merge=project")


def test_long_titles_break_after_a_slash_or_a_comma():
    lines = wrap_title(LONG, 40).split("\n")
    assert all(len(line) <= 40 for line in lines)
    assert "".join(lines).replace("/ ", " / ") == LONG
    assert lines[0].endswith(",") and lines[2].startswith("/ unet:")
    assert wrap_title("conv / conv", 40) == "conv / conv"


def test_the_loss_figure_title_fits_its_figure():
    history = {"loss": [2.0, 1.0], "val_loss": [2.5, 1.5], "psnr": [20.0, 25.0], "val_psnr": [19.0, 24.0]}
    figure = loss_curves(history, title=LONG, noisy_psnr=18.0)
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    box, canvas = figure._suptitle.get_window_extent(renderer), figure.bbox
    assert box.x0 >= canvas.x0 and box.x1 <= canvas.x1, (box, canvas)
