"""``make app``: the App on a demo dataset, the Model regression and LabelLoop panels beside the samples grid."""

import argparse

from demo import setup_environment

setup_environment()

import fiftyone as fo  # noqa: E402

from demo.__main__ import DIGITS  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default=DIGITS, help=f"dataset to open (default: {DIGITS})")
    parser.add_argument("--port", type=int, default=5151)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    if not fo.dataset_exists(args.dataset):
        raise SystemExit(f"No dataset '{args.dataset}': run `make demo` first.")
    session = fo.launch_app(
        fo.load_dataset(args.dataset), spaces=layout(), port=args.port, address=args.address, auto=False
    )
    print(f"App: http://{args.address}:{args.port} (Ctrl-C to stop)")
    session.wait(-1)


def layout() -> fo.Space:
    """The samples grid on the left; on the right, the Model regression and LabelLoop panels as tabs of a space of
    their own (tab bars: a person closes them or adds another panel with "+"), wide enough for their tables."""
    regression = fo.Panel(type="labelloop_regression")
    panels = fo.Space(children=[regression, fo.Panel(type="labelloop_overview")], active_child=regression.component_id)
    samples = fo.Panel(type="Samples", pinned=True)
    grid = fo.Space(children=[samples], active_child=samples.component_id)
    return fo.Space(children=[grid, panels], orientation="horizontal", sizes=[0.35, 0.65])


if __name__ == "__main__":
    main()
