"""One demo run: set the stage, play the case, print the end, keep running until Ctrl-C (unless
``--no-wait``), and always stop every child process in order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import traceback

from demo.options import DemoError, DemoOptions
from demo.play import Demo
from demo.story import Story
from hub.config import Settings

__all__ = ["run_demo"]


async def run_demo(options: DemoOptions, settings: Settings | None = None,
                   story: Story | None = None) -> int:
    settings = settings or Settings.from_env()
    story = story or Story()
    demo = Demo(options, settings, story)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async def main() -> None:
        story.say(f"Maatwerk Hub demo: state {settings.state_url}, keys {settings.keys_dir}, "
                  f"work files in {options.state_dir}")
        await demo.setup()
        await demo.start_processes()
        await demo.play()
        demo.print_end(await demo.final_status(), await demo.knelpunten())

    code = 0
    work = asyncio.create_task(main())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()
            if options.wait and not stop.is_set():
                story.say()
                story.say("Everything keeps running. Press Ctrl-C to stop it all.")
                while not stop.is_set():
                    demo.check_children()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        else:
            story.say()
            story.say("Interrupted.")
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            code = 130
    except DemoError as exc:
        story.say()
        story.say(f"DEMO FAILED: {exc}")
        code = 1
    except Exception as exc:
        story.say()
        story.say(f"DEMO FAILED (unexpected): {exc!r}")
        traceback.print_exc()
        code = 1
    finally:
        stopper.cancel()
        story.say()
        story.say("Stopping: adapters first (they finish the messages in hand), then the hub.")
        await demo.shutdown()
        story.say("Stopped.")
    return code
