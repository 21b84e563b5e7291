import numpy as np
import pytest

from diffsurr import data, solver


def _disk_masks(inputs, centres, radius):
    n, S, _ = centres.shape
    N = inputs.shape[-1]
    yy, xx = np.mgrid[:N, :N]
    return np.array([[(yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= radius**2 for c in cs]
                     for cs in centres])


def test_disk_has_81_pixels():
    assert len(data.disk_offsets(5)) == 81
    assert len(data.disk_offsets(0)) == 1


def test_preprint_placement_contained_disjoint_and_valued():
    inputs, centres, values = data.draw_inputs(200, seed=1)
    masks = _disk_masks(inputs, centres, 5)
    # fully inside: every disk keeps its 81 pixels on the grid
    assert (masks.sum(axis=(2, 3)) == 81).all()
    assert ((centres >= 5) & (centres <= 94)).all()
    # disjoint
    assert (masks.sum(axis=1) <= 1).all()
    # one source is 1, the other in (0, 1]
    assert np.allclose(values.max(axis=1), 1.0)
    assert (values > 0).all() and (values <= 1).all()
    # the image holds the values on the disks and 0 elsewhere
    expected = (masks * values[:, :, None, None]).sum(axis=1)
    np.testing.assert_array_equal(inputs, expected)


def test_same_seed_same_dataset_other_seed_differs():
    a = data.generate(6, seed=3, progress=False)
    b = data.generate(6, seed=3, progress=False)
    c = data.generate(6, seed=4, progress=False)
    np.testing.assert_array_equal(a.input.values, b.input.values)
    np.testing.assert_array_equal(a.target.values, b.target.values)
    assert not np.array_equal(a.input.values, c.input.values)


def test_generate_targets_are_the_solver_fields_and_attrs_recorded():
    ds = data.generate(4, seed=0, progress=False)
    assert ds.input.dims == ("sample", "y", "x") and ds.input.dtype == np.float32
    assert ds.target.dtype == np.float32 and ds.input.shape == (4, 100, 100)
    ref = solver.solve(ds.input.values.astype(np.float64), mode="clamped")
    np.testing.assert_allclose(ds.target.values, ref, atol=1e-6)
    for key in ("n", "seed", "n_sources", "radius", "size", "placement", "mode", "D", "gamma",
                "git_commit", "versions", "wall_time_s"):
        assert key in ds.attrs, key


def test_code_placement_allows_overlap_and_clips():
    inputs, centres, _ = data.draw_inputs(500, seed=2, placement="code")
    assert centres.min() == 4 and centres.max() == 94  # 1-based 5..95
    assert np.isclose(inputs.max(axis=(1, 2)), 1.0).all()
    masks = _disk_masks(inputs, centres, 5)
    assert (masks.sum(axis=1) > 1).any(), "no overlap in 500 draws without an overlap check"


def test_other_layouts_counts_radii_and_wall_contact():
    for n_sources, radius in ((1, 5), (3, 3), (4, 8)):
        inputs, centres, values = data.draw_inputs(20, seed=5, n_sources=n_sources, radius=radius)
        masks = _disk_masks(inputs, centres, radius)
        assert centres.shape == (20, n_sources, 2)
        assert (masks.sum(axis=(2, 3)) == len(data.disk_offsets(radius))).all()
        assert (masks.sum(axis=1) <= 1).all()
        assert ((values == 1).sum(axis=1) >= 1).all()
    inputs, centres, _ = data.draw_inputs(50, seed=6, placement="wall")
    touches = (centres == 5) | (centres == 94)
    assert touches.any(axis=2).all(), "every disk touches a wall"
    assert (inputs[:, [0, -1], :].max(axis=(1, 2)) > 0).any() or (inputs[:, :, [0, -1]] > 0).any()


@pytest.mark.parametrize("kwargs, match", [
    ({"n_sources": 200, "radius": 5}, "cannot be placed"),
    ({"n_sources": 0}, "n_sources"),
    ({"radius": -1}, "radius"),
    ({"placement": "random"}, "placement must be one of"),
    ({"size": 8, "radius": 5}, "size must be"),
])
def test_bad_layouts_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.draw_inputs(2, seed=0, **kwargs)


def test_split_is_deterministic_disjoint_and_sized():
    s = data.split(1000, 0.2, 0.1, seed=0)
    assert len(s["test"]) == 200 and len(s["val"]) == 80 and len(s["train"]) == 720
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert len(np.unique(allidx)) == 1000
    np.testing.assert_array_equal(s["test"], data.split(1000, 0.2, 0.1, seed=0)["test"])
    with pytest.raises(ValueError, match="too few"):
        data.split(3, 0.2, 0.1, seed=0)
    with pytest.raises(ValueError, match="test_fraction"):
        data.split(100, 1.2, 0.1, seed=0)


def test_polylines_are_thick_paths_with_disk_values_and_deterministic():
    inputs, vertices, values = data.draw_polylines(30, seed=4, n_sources=5, size=100)
    assert inputs.shape == (30, 100, 100) and vertices.shape == (30, 5, 5, 2)
    seg = np.linalg.norm(np.diff(vertices, axis=2), axis=-1)
    assert (seg <= data.POLYLINE["segment_length"] + 1e-9).all()     # clipping only shortens
    assert ((vertices >= 0) & (vertices <= 99)).all()
    assert np.allclose(values.max(axis=1), 1.0) and (values > 0).all()
    assert set(np.unique(inputs)) <= set(np.unique(values)) | {0.0}
    one = data.draw_polylines(200, seed=5, n_sources=1)[0]
    area = (one > 0).sum(axis=(1, 2))
    assert 60 < area.mean() < 160, area.mean()          # ~40 px long, 3 px thick
    # a thick line: no source pixel without a source 4-neighbour
    src = one > 0
    neighbours = np.zeros_like(src)
    neighbours[:, 1:] |= src[:, :-1]
    neighbours[:, :-1] |= src[:, 1:]
    neighbours[:, :, 1:] |= src[:, :, :-1]
    neighbours[:, :, :-1] |= src[:, :, 1:]
    assert not (src & ~neighbours).any()
    again = data.draw_polylines(30, seed=4, n_sources=5, size=100)
    assert np.array_equal(inputs, again[0])
    assert not np.array_equal(inputs, data.draw_polylines(30, seed=6, n_sources=5)[0][:30])


def test_polyline_mask_is_the_distance_rule():
    m = data.polyline_mask(np.array([[10.0, 5.0], [10.0, 15.0]]), 20, 3.0)
    assert m[10, 5:16].all() and m[9, 5:16].all() and m[11, 5:16].all()
    # the round cap: (9..11, 16)
    assert not m[8].any() and not m[12].any() and m[:, 16:].sum() == 3


def test_draw_inputs_gives_the_pay_off_layouts_unchanged_for_the_study():
    """k disks at grid N (the pay-off map) with the study's arguments' draws untouched."""
    for N, k in ((200, 20), (512, 10)):
        inputs, centres, _ = data.draw_inputs(2, seed=1, n_sources=k, size=N)
        assert inputs.shape == (2, N, N) and centres.shape == (2, k, 2)
        assert ((inputs > 0).sum(axis=(1, 2)) == 81 * k).all()


@pytest.mark.parametrize("kwargs, match", [({"n": 0}, "n must"), ({"n_sources": 0}, "n_sources"),
                                           ({"segments": 0}, "segments"),
                                           ({"thickness": 0.0}, "thickness")])
def test_bad_polylines_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.draw_polylines(**{"n": 2, "seed": 0, **kwargs})
