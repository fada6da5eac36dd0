"""The gate search of ``tfxai search gates``: short training runs scored by IS, in a resumable folder."""

import csv
import io
import dataclasses
import os

import numpy as np

from tfxai.errors import TfxaiError

__all__ = ["run_gate_search"]


def run_gate_search(preset, out, log=print, overwrite=False, **options):
    """Search gates for the data and sizes in ``options``; write study.db, best_graph.json/.png and trials.csv to ``out``.

    An existing ``out`` resumes its study (``overwrite`` starts afresh).
    """
    import shutil

    from tfxai.gan.collaborative.training import CollabGANConfig, load_gan_images, load_scorer, score_generators, train_graph
    from tfxai.gan.collaborative.search import best_graph, completed_trials, draw_graph, search_gates
    from tfxai.io import write_json, write_text

    config = CollabGANConfig.from_preset(preset, **options)
    if config.scorer == "none":
        raise TfxaiError("the gate search maximises IS: pass --scorer inceptionv3, an InceptionV3 weights file or a .keras classifier")
    if config.generators < 2:
        raise TfxaiError("the gate search needs at least 2 generators (1 generator has only the D edge): set --generators 2 or more")
    if overwrite and os.path.isdir(out):
        shutil.rmtree(out)
    classifier, scorer = load_scorer(config.scorer)
    images = load_gan_images(config)
    trial = dataclasses.replace(config, epochs=config.search_epochs)  # a trial trains the search's epochs
    log(f"gate search: {config.search_trials} trials, {config.generators} generators, {len(images)} images, "
        f"{trial.epochs} epoch(s) per trial, scored with {scorer}")
    scored = []

    def objective(graph):
        model, _ = train_graph(trial, graph, images)  # a NaN loss: TfxaiError naming it, which ends the search
        scored.append(float(np.mean(score_generators(model, classifier, images, config.score_images, config.seed, config.score_splits)["is"])))
        return scored[-1]

    fresh = not os.path.exists(out)
    try:
        study = search_gates(objective, config.generators, config.search_trials, os.path.join(out, "study.db"), seed=config.seed, log=log)
    except TfxaiError:
        if fresh and not scored:  # a new folder holding only the failed trial: nothing is written
            shutil.rmtree(out, ignore_errors=True)
        raise
    graph = best_graph(study, config.generators)
    write_text(os.path.join(out, "best_graph.json"), graph.to_json())
    draw_graph(graph, os.path.join(out, "best_graph.png"), f"best graph: mean IS {study.best_value:.3f}")
    write_text(os.path.join(out, "trials.csv"), _trials_csv(study))
    write_json(os.path.join(out, "search.json"), {"config": config.to_dict(), "scored_with": scorer, "best_value": study.best_value,
                                                  "completed_trials": len(completed_trials(study))})
    log(f"done: {len(completed_trials(study))} trials, best mean IS {study.best_value:.3f}; wrote {out}/best_graph.json")
    return study, graph


def _trials_csv(study):
    rows = [t for t in study.trials if t.value is not None]
    names = sorted({name for t in rows for name in t.params})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "mean_is", *names])
    for t in rows:
        writer.writerow([t.number + 1, f"{t.value:.6g}", *[t.params.get(n, "") for n in names]])
    return buffer.getvalue()
