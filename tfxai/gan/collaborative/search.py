"""Gate search: the knowledge-transfer graph whose generators score the highest mean Inception Score.

Every edge's gate is one categorical Optuna parameter (4^edges graphs; 4^9 for
3 generators); each trial trains a short run with its graph and returns the
mean IS of the generators (Tsukahara 2021, Sec. 4.3, 1,500 trials). The study
lives in an SQLite file, so a search that stopped resumes where it was: the
trial budget counts the trials already completed.
"""

import os

from tfxai.errors import TfxaiError
from tfxai.gan.collaborative.gates import GATES
from tfxai.gan.collaborative.graph import DISCRIMINATOR, KnowledgeTransferGraph, edge_name, graph_edges

__all__ = ["GATE_COLOURS", "best_graph", "completed_trials", "draw_graph", "search_gates"]

#: Edge colours of the drawing (the thesis draws PositiveLinear red and Through grey).
GATE_COLOURS = {"through": "#808080", "positive_linear": "#d62728", "negative_linear": "#1f77b4", "cutoff": "#e0e0e0"}


def _open_study(storage, study_name, seed):
    """``(study, database)``: the study in the SQLite file ``storage`` and its :class:`optuna.storages.RDBStorage`.

    The database keeps no connection between reads and writes (SQLAlchemy's
    ``NullPool``), so the file is not held open while trials train or after
    the search; :func:`_close_database` ends what a failed operation left.
    """
    try:
        import optuna
    except ImportError:
        raise TfxaiError("the gate search needs Optuna: pip install 'tfxai[gan]' (or pip install optuna)") from None
    from sqlalchemy.pool import NullPool

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.makedirs(os.path.dirname(os.path.abspath(storage)), exist_ok=True)
    database = optuna.storages.RDBStorage(f"sqlite:///{os.path.abspath(storage)}", engine_kwargs={"poolclass": NullPool})
    try:
        study = optuna.create_study(study_name=study_name, storage=database, load_if_exists=True, direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
    except BaseException:
        _close_database(database)
        raise
    return study, database


def _close_database(database):
    """Close the study database's session and connections (a later read of the study opens one again)."""
    database.remove_session()
    database.engine.dispose()


def completed_trials(study):
    import optuna

    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def search_gates(objective, num_generators, trials, storage, study_name="gates", seed=0, log=None):
    """Run the study in ``storage`` (an SQLite file) until it holds ``trials`` completed trials; returns the study.

    ``objective(graph)`` trains and scores one :class:`KnowledgeTransferGraph`;
    an error it raises (a :class:`TfxaiError` for a NaN loss) ends the search
    (the trial is stored as failed, and a rerun runs it again).
    A study made for another number of generators is a :class:`TfxaiError`.
    """
    study, database = _open_study(storage, study_name, seed)
    try:
        _run_study(study, objective, num_generators, trials, storage, log)
    finally:  # also when a trial stopped the search (a NaN loss): the file is left closed, to be removed or reopened
        _close_database(database)
    return study


def _run_study(study, objective, num_generators, trials, storage, log):
    stored = study.user_attrs.get("num_generators")
    if stored is not None and stored != num_generators:
        raise TfxaiError(f"study {storage} searches {stored} generators, not {num_generators}: use another --out or --generators {stored}")
    study.set_user_attr("num_generators", num_generators)
    edges = graph_edges(num_generators)

    def trial_objective(trial):
        graph = KnowledgeTransferGraph.from_choices(num_generators, [trial.suggest_categorical(edge_name(e), list(GATES)) for e in edges])
        score = float(objective(graph))
        if log:
            log(f"trial {trial.number + 1}: mean IS {score:.4f}")
        return score

    remaining = max(int(trials) - len(completed_trials(study)), 0)
    if log and remaining < trials:
        log(f"resuming: {trials - remaining} trial(s) already done, {remaining} to run")
    if remaining:
        import optuna

        # A trial's TfxaiError (a NaN loss) ends the search with its one line: Optuna would first log the failure and its traceback.
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        try:
            study.optimize(trial_objective, n_trials=remaining)
        finally:
            optuna.logging.set_verbosity(optuna.logging.WARNING)


def best_graph(study, num_generators):
    """The graph of the study's best trial."""
    if not completed_trials(study):
        raise TfxaiError("the study has no completed trial yet: run the search with --trials 1 or more")
    params = study.best_trial.params
    return KnowledgeTransferGraph.from_choices(num_generators, [params[edge_name(e)] for e in graph_edges(num_generators)])


def draw_graph(graph, path, title="knowledge-transfer graph"):
    """Draw ``graph`` (nodes G_i around D, edges coloured by gate, cut edges faint) into an image file, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tfxai.io import atomic_path

    k = graph.num_generators
    angles = np.pi / 2 + 2 * np.pi * np.arange(k) / k
    position = {i: (np.cos(a), np.sin(a)) for i, a in enumerate(angles)}
    position[DISCRIMINATOR] = (0.0, 0.0) if k > 2 else (0.0, -1.2)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for (source, target) in graph_edges(k):
        gate = graph.gate(source, target)
        bend = 0.0 if source == DISCRIMINATOR else 0.2
        axes.annotate("", xy=position[target], xytext=position[source],
                      arrowprops=dict(arrowstyle="-|>", color=GATE_COLOURS[gate], lw=2.2 if gate != "cutoff" else 1.0,
                                      linestyle="-" if gate != "cutoff" else ":", shrinkA=16, shrinkB=16,
                                      connectionstyle=f"arc3,rad={bend}"))
    for node, (x, y) in position.items():
        label = node if node == DISCRIMINATOR else f"G{node + 1}"
        axes.add_patch(plt.Circle((x, y), 0.16, color="#ffffff", ec="black", zorder=3))
        axes.text(x, y, label, ha="center", va="center", zorder=4, fontsize=12)
    handles = [plt.Line2D([], [], color=colour, lw=2, label=gate) for gate, colour in GATE_COLOURS.items()]
    axes.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    axes.set_xlim(-1.5, 1.5)
    axes.set_ylim(-1.5, 1.5)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title(title)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(figure)
