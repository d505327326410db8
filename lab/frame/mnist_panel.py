"""Why MNIST cannot be used on this page (not downloaded yet, or files on disk refused), and a button to fetch it."""
from __future__ import annotations

import streamlit as st

from ..store import mnist

FETCH_KEY = "fetch_mnist"


def offer_fetch(not_downloaded: str) -> None:
    """Show `not_downloaded` (or, when files are damaged, what is wrong with each) and a fetch button.

    The fetch runs in this page run, with a progress bar; only missing or refused files are downloaded.
    """
    damage = mnist.damaged()
    if damage:
        st.error("MNIST files on disk were refused and are not used: " + "; ".join(damage.values()) + ".",
                 icon=":material/gpp_bad:")
    else:
        st.warning(not_downloaded)
    if st.button("Fetch again" if damage else "Fetch MNIST", icon=":material/download:", key=FETCH_KEY):
        bar = st.progress(0.0, text="Fetching MNIST…")
        try:
            mnist.fetch(lambda fraction, step: bar.progress(fraction, text=f"Fetching MNIST: {step} {fraction:.0%}"))
        except Exception as e:  # noqa: BLE001 -- whatever went wrong is shown; the page stays usable
            st.error(f"Fetching MNIST failed: {e}")
        else:
            st.rerun()
