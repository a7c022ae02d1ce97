"""mkdocs hook: draw the user guide's explanatory figures into docs/generated/guide/ before each build.

They are diagrams over ``skimage.data`` images, made with matplotlib in a second or two, so no image
file is committed for them. Pages show them as ``../generated/guide/NAME.png``.
"""

from pathlib import Path

FONT = 13


def _rect(x, y, w, h, **kw):
    from matplotlib import patches

    return patches.Rectangle((x, y), w, h, fill=False, ec="k", lw=1, **kw)


def tiling(path):
    import matplotlib.pyplot as plt
    from skimage import data

    image = data.camera() / 255.0
    fig, ax = plt.subplots(figsize=(9, 5.2), layout="constrained")
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    rows = 64
    for top in range(0, 513, rows):
        ax.plot([0, 511], [top, top], color="C1", lw=1.2)
    ax.add_patch(plt.Rectangle((0, 192), 511, rows, fill=True, fc="C1", alpha=0.35, ec="C1", lw=2))
    ax.add_patch(plt.Rectangle((0, 176), 511, 16, fill=True, fc="C0", alpha=0.5))
    ax.annotate("strip being computed", (512, 224), xytext=(540, 250), fontsize=FONT, va="center",
                arrowprops={"arrowstyle": "->"}, annotation_clip=False)
    ax.annotate("rows kept from the strip above\n(each layer keeps what the next strip needs)", (512, 184),
                xytext=(540, 150), fontsize=FONT, va="center", arrowprops={"arrowstyle": "->"}, annotation_clip=False)
    ax.annotate("strips of about tile_size² / 2 pixels,\nfull width, top to bottom", (512, 420), xytext=(540, 420),
                fontsize=FONT, va="center", arrowprops={"arrowstyle": "->"}, annotation_clip=False)
    ax.set_xlim(0, 1000)
    ax.set_ylim(520, -8)
    ax.set_axis_off()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def channels(path):
    import matplotlib.pyplot as plt
    import numpy as np
    from skimage import data

    rgb = data.astronaut()[::5, ::5] / 255.0
    gray = rgb @ [0.299, 0.587, 0.114]
    fig, ax = plt.subplots(figsize=(10, 4.2), layout="constrained")
    ax.imshow(gray, cmap="gray", extent=(0, 100, 140, 40))
    ax.add_patch(_rect(0, 40, 100, 100))
    ax.text(50, 34, "(H, W)\nchannel_axis=None", ha="center", va="bottom", fontsize=FONT)
    ax.text(50, 150, "gray model", ha="center", va="top", fontsize=FONT, color="C0", weight="bold")
    ax.imshow(rgb, extent=(170, 270, 140, 40))
    ax.add_patch(_rect(170, 40, 100, 100))
    ax.text(220, 34, "(H, W, 3) or (H, W, 4)\nchannel_axis=-1", ha="center", va="bottom", fontsize=FONT)
    ax.text(220, 150, "colour model, RGB together\n(alpha passed through)", ha="center", va="top", fontsize=FONT,
            color="C1", weight="bold")
    bands = [np.clip(rgb[..., c] * 1.2, 0, 1) for c in (0, 1)]
    for i, band in enumerate(reversed(bands)):
        x0 = 350 + (1 - i) * 14
        ax.imshow(band, cmap="magma", extent=(x0, x0 + 100, 140 + (1 - i) * 14, 40 + (1 - i) * 14), zorder=5 + i)
        ax.add_patch(_rect(x0, 40 + (1 - i) * 14, 100, 100, zorder=5 + i))
    ax.text(407, 34, "(C, H, W), C = 2 or more than 4\nchannel_axis=0", ha="center", va="bottom", fontsize=FONT)
    ax.text(407, 164, "gray model, channel by channel", ha="center", va="top", fontsize=FONT, color="C0", weight="bold")
    ax.set_xlim(-10, 500)
    ax.set_ylim(200, -5)
    ax.set_axis_off()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def stacks(path):
    import matplotlib.pyplot as plt
    from skimage import data

    moon = data.moon()[::5, ::5] / 255.0
    fig, ax = plt.subplots(figsize=(10, 3), layout="constrained")
    for i in reversed(range(4)):
        x0, y0 = i * 16, 30 + i * 16
        ax.imshow(moon, cmap="gray", extent=(x0, x0 + 100, y0 + 100, y0), zorder=10 - i, vmin=0, vmax=1)
        ax.add_patch(_rect(x0, y0, 100, 100, zorder=10 - i))
    ax.text(74, 10, "(Z, H, W) or (T, Z, H, W), channel_axis=None", ha="left", va="top", fontsize=FONT)
    ax.annotate("", (300, 95), (190, 95), arrowprops={"arrowstyle": "->", "lw": 2})
    ax.text(245, 80, "each plane\non its own", ha="center", va="bottom", fontsize=FONT)
    for i in range(4):
        x0 = 320 + i * 112
        ax.imshow(moon, cmap="gray", extent=(x0, x0 + 100, 145, 45), vmin=0, vmax=1)
        ax.add_patch(_rect(x0, 45, 100, 100))
        ax.text(x0 + 50, 155, f"plane {i}", ha="center", va="top", fontsize=FONT)
    ax.text(540, 185, "one value mapping for the whole stack: planes stay comparable", ha="center", va="top",
            fontsize=FONT, color="C0")
    ax.set_xlim(-5, 780)
    ax.set_ylim(200, -5)
    ax.set_axis_off()
    fig.savefig(path, dpi=100)
    plt.close(fig)


FIGURES = {"tiling-strips.png": tiling, "channel-axis.png": channels, "stacks.png": stacks}


def on_pre_build(config):
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(config["docs_dir"]) / "generated" / "guide"
    folder.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        draw(folder / name)
