import numpy as np
from sklearn.decomposition import PCA

from morph_core.pipeline.reduce import PCAModel, fit_pca
from morph_core.pipeline.umap import fit_umap


def _data(n=300, d=64, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 5)) * np.array([10, 6, 4, 2, 1])
    return (latent @ rng.normal(size=(5, d)) + 0.1 * rng.normal(size=(n, d))).astype(
        np.float32
    )


def test_pca_is_scikit_learns_exact_pca_and_nests():
    x = _data()
    model = fit_pca(x, n_components=8, batch_size=100)
    exact = PCA(n_components=8, svd_solver="full").fit(x.astype(np.float64))
    assert model.variance_explained(5) > 0.99
    np.testing.assert_allclose(
        model.explained_variance_ratio, exact.explained_variance_ratio_, rtol=1e-6
    )
    # the same components with the same signs (largest loading positive)
    np.testing.assert_allclose(model.components, exact.components_, atol=1e-5)
    projected = model.transform(x)
    assert projected.shape == (300, 8) and projected.dtype == np.float32
    np.testing.assert_allclose(projected, exact.transform(x), atol=1e-3 * x.std())
    ratios = [model.variance_explained(k) for k in (1, 3, 8)]
    assert ratios == sorted(ratios)


def test_batches_do_not_change_the_fit():
    x = _data(n=250, d=16)
    progress = []
    batched = fit_pca(
        x, 10, batch_size=120, progress=lambda d, n: progress.append((d, n))
    )
    whole = fit_pca(x, 10, batch_size=1000)
    np.testing.assert_allclose(batched.components, whole.components, atol=1e-6)
    assert progress[-1] == (500, 500)  # both passes over the rows


def test_pca_round_trips_through_arrays_and_caps_components():
    x = _data(n=20, d=64)
    model = fit_pca(x, n_components=40)
    assert model.n_components == 20
    again = PCAModel.from_arrays(model.to_arrays())
    np.testing.assert_array_equal(again.transform(x), model.transform(x))


def test_umap_is_two_dimensional_and_separates_clusters():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (60, 15)), rng.normal(12, 1, (60, 15))])
    embedding = fit_umap(x.astype(np.float32), n_neighbors=10)
    assert embedding.shape == (120, 2) and np.isfinite(embedding).all()
    a, b = embedding[:60].mean(0), embedding[60:].mean(0)
    assert np.linalg.norm(a - b) > 3 * embedding[:60].std(0).max()
    assert fit_umap(x[:3]).shape == (3, 2)


def test_a_large_map_is_fitted_on_a_sample_and_places_the_rest():
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (300, 15)), rng.normal(12, 1, (300, 15))])
    steps = []
    embedding = fit_umap(
        x.astype(np.float32),
        n_neighbors=10,
        fit_max=200,
        progress=lambda done, total: steps.append((done, total)),
    )
    assert embedding.shape == (600, 2) and np.isfinite(embedding).all()
    assert steps[0] == (200, 600) and steps[-1] == (600, 600)
    a, b = embedding[:300].mean(0), embedding[300:].mean(0)  # sampled or placed,
    assert np.linalg.norm(a - b) > 3 * embedding[:300].std(0).max()  # by cluster
