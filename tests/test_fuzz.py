"""``deblur`` over fuzzed arguments: it returns a valid result or raises the documented ValueError or TypeError.

Shapes, dtypes, values (NaN, inf, out of range, constant), channel axes
(valid, out of range, of the wrong type), options and dask input are drawn
together; a bounded number of examples keeps it in CI.
"""

import warnings

import dask.array as da
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dci_cnn import deblur

# repeats weight the draw towards what should work, so that most examples run the network
DTYPES = ["uint8", "uint16", "int16", "int32", "float16", "float32", "float32", "float64", "float64", "bool", "complex64"]
VALUES = ["unit", "unit", "unit", "wide", "constant", "with-nan", "with-inf", "negative"]
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=24),
    hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=24),
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=6).map(lambda s: (*s, 3)),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=8),
)


def _values(kind, shape, dtype, rng):
    values = {"unit": rng.random(shape), "wide": rng.normal(0, 300, shape), "constant": np.full(shape, 0.25),
              "negative": -rng.random(shape), "with-nan": rng.random(shape), "with-inf": rng.random(shape)}[kind]
    if values.size and kind in ("with-nan", "with-inf"):
        values.flat[rng.integers(values.size)] = np.nan if kind == "with-nan" else -np.inf
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(np.nan_to_num(values * info.max, posinf=info.max, neginf=info.min), info.min, info.max)
    return values.astype(dtype)


@st.composite
def arguments(draw):
    shape = draw(SHAPES)
    image = _values(draw(st.sampled_from(VALUES)), shape, np.dtype(draw(st.sampled_from(DTYPES))),
                    np.random.default_rng(draw(st.integers(0, 2**16))))
    ndim = len(shape)
    channel_axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1) if ndim else st.none(), st.none(),
                                  st.integers(-ndim - 2, ndim + 1), st.sampled_from([1.0, "last", True])))
    options = draw(st.fixed_dictionaries({}, optional={
        "preserve_range": st.booleans(),
        "tile_size": st.sampled_from([None, "auto", 16, 24, 32, 8, 0, "big"]),
        "self_ensemble": st.booleans(),
        "model": st.sampled_from(["gray", "color"]),
    }))
    lazy = draw(st.booleans()) and image.ndim > 0
    return image, channel_axis, options, lazy


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=arguments())
def test_fuzzed_arguments_give_a_valid_result_or_a_documented_error(gray, color, drawn):
    image, channel_axis, options, lazy = drawn
    if "model" in options:
        options["model"] = {"gray": gray, "color": color}[options["model"]]
    source = da.from_array(image, chunks=8) if lazy else image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # channel_axis=None on a colour-like last axis: documented
            out = np.asarray(deblur(source, channel_axis=channel_axis, **options))
    except (ValueError, TypeError) as error:
        assert len(str(error)) > 20  # a sentence naming the problem
        return
    assert out.shape == image.shape and out.dtype in (np.float32, np.float64) and np.isfinite(out).all()
    if options.get("preserve_range"):
        assert image.min() <= out.min() and out.max() <= image.max()
    else:
        assert 0 <= out.min() and out.max() <= 1
