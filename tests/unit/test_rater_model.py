"""One rater's model (morph_core.tools.anomaly.session.fit_rater): compact at a
million galaxies, and the same batch and ranking from float32 features."""

import numpy as np
import pandas as pd
import pytest

from morph_core.tools.anomaly.baseline import isolation_scores
from morph_core.tools.anomaly.features import anomaly_features
from morph_core.tools.anomaly.session import fit_rater


@pytest.fixture(scope="module")
def sky():
    rng = np.random.default_rng(1)
    pca = np.vstack([rng.normal(0, 1, (600, 40)), rng.normal(5, 1, (20, 40))])
    ids = pd.Index([f"G{i:04d}" for i in range(len(pca))])
    features = anomaly_features("cnn", pca, None)
    ratings = pd.DataFrame(
        {
            "galaxy_id": ["G0003", "G0610", "G0007", "G0615", "nowhere"],
            "rating": [0, 5, 1, 4, 5],
        }
    )
    return ids, features, isolation_scores(features), ratings


def test_features_are_float32_and_give_the_float64_batch_and_ranking(sky):
    ids, features, oddness, ratings = sky
    assert features.dtype == np.float32
    single = fit_rater(ratings, ids, features, oddness)
    double = fit_rater(ratings, ids, features.astype(np.float64), oddness)
    assert single.batch_ids == double.batch_ids
    assert (single.top_rows(100) == double.top_rows(100)).all()
    assert np.allclose(single.proposal.mean, double.proposal.mean, atol=1e-5)


def test_the_ranking_puts_rated_galaxies_by_rating_then_the_predicted(sky):
    ids, features, oddness, ratings = sky
    model = fit_rater(ratings, ids, features, oddness)
    assert model.galaxy_ids is ids  # the shared index, not a copy
    assert model.proposal.mean.dtype == np.float32
    ranking = model.ranking()
    assert len(ranking) == len(ids) and ranking["galaxy_id"].is_unique
    assert ranking["galaxy_id"].head(3).tolist() == ["G0610", "G0615", "G0007"]
    assert ranking["rating"].head(3).tolist() == [5, 4, 1]
    assert ranking["interest"].is_monotonic_decreasing
    rated = ranking["rating"].notna()
    assert set(ranking.loc[rated, "galaxy_id"]) == {"G0003", "G0610", "G0007", "G0615"}
    unrated = ranking[~rated]
    assert np.allclose(unrated["interest"], unrated["predicted"], atol=1e-5)
    assert ranking.head(30).equals(model.ranking(30))
    # the odd clump the rater likes comes first among the galaxies not rated
    assert unrated["galaxy_id"].head(10).str[1:].astype(int).min() >= 600
    batch = model.batch_ids
    assert len(batch) == 10 and not {"G0003", "G0610", "G0007", "G0615"} & set(batch)


def test_beliefs_are_the_models_own_predictions(sky):
    ids, features, oddness, ratings = sky
    model = fit_rater(ratings, ids, features, oddness)
    beliefs = model.beliefs(model.batch_ids)
    rows = ids.get_indexer(model.batch_ids)
    assert beliefs["predicted rating"].tolist() == [
        round(float(v), 2) for v in model.proposal.mean[rows]
    ]
    with pytest.raises(KeyError):
        model.beliefs(["not-a-galaxy"])
