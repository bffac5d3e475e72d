"""Retrain: data summary, hyperparameters, a live training run, compare, activate or roll back."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from pantry.errors import NotEnoughVotes, PantryError
from pantry.reports import compare_models, held_out_votes, versions_table, vote_features, votes_summary
from pantry.training import LEGACY_DEFAULTS, TrainConfig
from ui.common import current_profile, flash, guarded, require_app
from ui.resources import get_lab

require_app()
lab = get_lab()
store = lab.store
user = current_profile()
DEFAULTS = TrainConfig()
HP_KEYS = ("epochs", "lr", "batch_size", "val_split", "patience", "l2", "members", "seed", "min_decisive",
           "refit", "optimizer", "item_var")


def _set_hp(values: dict) -> None:
    for k in HP_KEYS:
        if k in values:
            st.session_state[f"hp_{k}"] = type(getattr(DEFAULTS, k))(values[k])


def _config() -> TrainConfig:
    return TrainConfig(**{k: st.session_state.get(f"hp_{k}", getattr(DEFAULTS, k)) for k in HP_KEYS})


def _loss_chart(history: list[dict]) -> alt.Chart:
    frame = pd.DataFrame(history)
    long = frame.melt("epoch", ["train_loss", "val_loss", "val_accuracy"], "series", "value").dropna()
    long["panel"] = long["series"].map({"train_loss": "loss", "val_loss": "loss", "val_accuracy": "accuracy"})
    base = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch"), y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", title=None), tooltip=["epoch", "series", alt.Tooltip("value:Q", format=".3f")])
    return alt.layer(base).properties(height=180).facet(column=alt.Column("panel:N", title=None)).resolve_scale(y="independent")


def _current_model(name: str):
    """The model Compare uses right now for this profile (label, RewardModel)."""
    choice = lab.model_for(name)
    return choice.label, choice.model


def _activate(version_id: int) -> None:
    try:
        store.activate_model(version_id)
        flash("success", f"Version v{version_id} is now active.")
    except PantryError as e:
        flash("error", f"Could not activate v{version_id}: {e}")
    st.session_state.pop("train_result", None)


def _keep() -> None:
    result = st.session_state.pop("train_result", None)
    if result:
        flash("info", f"Kept the current model; v{result['version']} stays in the list below if you change your mind.")


def _deactivate(name: str) -> None:
    store.deactivate_models(name)
    flash("info", f"{name} now uses the population model (or the heuristic).")


def _train(name: str, cfg: TrainConfig) -> None:
    st.session_state.pop("train_result", None)
    current_label, current_model = _current_model(name)
    history: list[dict] = []
    with st.status(f"Training a personal model for {name}...", expanded=True) as status:
        bar = st.progress(0.0, text="preparing votes")
        chart = st.empty()

        def on_progress(done: int, total: int, message: str) -> None:
            bar.progress(min(1.0, done / total) if total else 0.0, text=message)

        def on_epoch(stats) -> None:
            history.append({"epoch": stats.epoch, "train_loss": stats.train_loss,
                            "val_loss": stats.val_loss, "val_accuracy": stats.val_accuracy})
            chart.altair_chart(_loss_chart(history))

        try:
            outcome = lab.train(name, cfg, activate=False, on_progress=on_progress, on_epoch=on_epoch)
        except NotEnoughVotes as e:
            status.update(label="Not enough votes yet", state="error")
            st.warning(str(e))
            return
        except PantryError as e:
            status.update(label="Training failed", state="error")
            st.error(f"Training failed; nothing was changed: {e}")
            return
        bar.progress(1.0, text="done")
        status.update(label=f"Trained v{outcome.personal_version} in {outcome.seconds:.1f} s", state="complete",
                      expanded=False)
    version = store.get_model_version(outcome.personal_version)
    held, description = held_out_votes(store.votes(user=name), cfg.seed, cfg.val_split)
    if cfg.refit:
        description += " (the new version's final fit has seen them: its validation-run accuracy is in the versions table)"
    vf = vote_features(lab, held)
    table = compare_models({f"new v{version.id}": lab.load_version(version),
                            f"current ({current_label})": current_model}, vf)
    st.session_state["train_result"] = {"version": version.id, "table": table, "held": description,
                                        "history": history, "population": outcome.population_version,
                                        "metrics": outcome.metrics}


st.title("Retrain", anchor=False)
if user is None:
    st.info("Create a profile in the sidebar first; training learns from a profile's votes.")
    st.stop()

st.subheader("Votes per profile", anchor=False)
summary = votes_summary(store)
if summary.empty:
    st.info("No votes yet. Vote on a few pairs on the **Compare** page, or import votes on the **Data** page.")
else:
    st.dataframe(summary, hide_index=True)

st.subheader("Hyperparameters", anchor=False)
for k in HP_KEYS:
    st.session_state.setdefault(f"hp_{k}", getattr(DEFAULTS, k))
with st.container(border=True):
    c = st.columns(5)
    c[0].number_input("Epochs (max)", 1, 1000, key="hp_epochs", help=f"legacy: {LEGACY_DEFAULTS['epochs']}")
    c[1].number_input("Learning rate", 1e-6, 1.0, key="hp_lr", format="%.5f", step=1e-4,
                      help=f"legacy: {LEGACY_DEFAULTS['lr']}")
    c[2].number_input("Batch size", 1, 4096, key="hp_batch_size", help=f"legacy: {LEGACY_DEFAULTS['batch_size']}")
    c[3].number_input("Validation split", 0.0, 0.9, key="hp_val_split", step=0.05,
                      help=f"legacy: {LEGACY_DEFAULTS['val_split']}")
    c[4].number_input("Early-stop patience", 1, 1000, key="hp_patience")
    d = st.columns(5)
    d[0].number_input("L2 pull to prior", 0.0, 100.0, key="hp_l2", format="%.4f", step=0.001)
    d[1].number_input("Ensemble members", 1, 20, key="hp_members")
    d[2].number_input("Seed", 0, 2**31 - 1, key="hp_seed")
    d[3].number_input("Min decisive votes", 2, 10000, key="hp_min_decisive")
    with d[4]:
        st.button("Legacy defaults", on_click=_set_hp, args=(LEGACY_DEFAULTS,), key="legacy_defaults",
                  help="The original project's settings: 10 epochs, lr 1e-4, batch 4, val split 0.2.")
        st.button("Our defaults", on_click=_set_hp, args=(DEFAULTS.to_dict(),), key="our_defaults", type="tertiary")
    e = st.columns([2, 1, 2])
    e[0].radio("Optimizer", ["lbfgs", "adam"], key="hp_optimizer", horizontal=True,
               format_func={"lbfgs": "L-BFGS, full batch to convergence", "adam": "Adam + early stopping"}.get,
               help="L-BFGS finds the exact optimum of the (convex) objective; learning rate, batch size and "
                    "patience apply to Adam only. The legacy trainer used Adam.")
    e[1].number_input("Offset variance", 0.0, 1000.0, key="hp_item_var", step=1.0,
                      help="Prior variance of a per-recipe offset for recipes this profile has rated (0: none). "
                           "New recipes are scored by content alone.")
    st.checkbox("Final model also learns from the validation votes (refit on all votes)", key="hp_refit",
                help="On: no vote is wasted, but the comparison below then runs on votes the new version has "
                     "seen. Off: the comparison is fully held out.")
    st.caption("Legacy defaults: " + ", ".join(f"{k} {v}" for k, v in LEGACY_DEFAULTS.items())
               + ". With those the model barely moves from its start (how scores end up near one value).")

counts = store.vote_counts(user)
decisive = counts["a"] + counts["b"]
cfg = _config()
st.markdown(f"**{user}** has **{decisive}** decisive votes (training needs {cfg.min_decisive}).")
if st.button("Retrain", type="primary", key="retrain", icon=":material/model_training:",
             disabled=decisive < cfg.min_decisive, help="Trains the population model (everyone's votes), "
             "then a personal model pulled toward it. The new personal version is not activated until you say so."):
    with guarded("Training"):
        _train(user, cfg)
    if st.session_state.get("train_result"):
        st.rerun()  # redraw the sidebar: a new population model may now be active

result = st.session_state.get("train_result")
if result:
    st.subheader(f"New version v{result['version']} vs the current model", anchor=False)
    st.caption(f"Both scored on the same {result['held']}. Strict accuracy: equal scores count as wrong.")
    st.dataframe(result["table"], hide_index=True, column_config={
        "strict accuracy": st.column_config.NumberColumn(format="%.2f"),
        "tie rate": st.column_config.NumberColumn(format="%.2f"),
        "mean margin": st.column_config.NumberColumn(format="%.3f")})
    if result["history"]:
        st.altair_chart(_loss_chart(result["history"]))
    a, b, _ = st.columns([2, 2, 4])
    a.button(f"Activate v{result['version']}", type="primary", on_click=_activate, args=(result["version"],),
             key="activate_new", icon=":material/check:")
    b.button("Keep the current model", on_click=_keep, key="keep_old")

st.subheader("Versions", anchor=False)
versions = store.model_versions(user)
if not versions:
    st.info("No model versions yet: Compare uses the pantry heuristic until you retrain.")
else:
    st.dataframe(versions_table(versions), hide_index=True, column_config={
        "val accuracy": st.column_config.NumberColumn(format="%.2f"),
        "train accuracy": st.column_config.NumberColumn(format="%.2f"),
        "val loss": st.column_config.NumberColumn(format="%.3f")})
    ids = [v.id for v in versions]
    labels = {v.id: f"v{v.id} · {'population' if v.user is None else v.user} · {v.created_at[:16].replace('T', ' ')}"
              + (" (active)" if v.active else "") for v in versions}
    x, y, z = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = x.selectbox("Version", ids, format_func=labels.get, key="version_pick")
    y.button("Activate / roll back", on_click=_activate, args=(chosen,), key="activate_pick",
             icon=":material/history:", disabled=chosen is None)
    z.button(f"No personal model for {user}", on_click=_deactivate, args=(user,), key="deactivate",
             disabled=store.active_model(user) is None)
