"""The app the benchmark workers load: one no-op task per mode."""

from horae import Horae

app = Horae()


@app.task("noop")
def noop() -> None:
    return None


@app.task("noop.async")
async def noop_async() -> None:
    return None
