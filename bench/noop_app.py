"""The app the benchmark workers load: one no-op task."""

from horae import Horae

app = Horae()


@app.task("noop")
def noop() -> None:
    return None
