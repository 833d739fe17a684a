"""bench_chart.py — the PNG bar chart of speed ratios that bench_attention.py and
bench_model.py draw for --plot: matplotlib where it imports, else a gnuplot script
(Debian package gnuplot-nox) written beside the PNG and run."""
import math
import shutil
import subprocess

COLOURS = ["#3b6ea5", "#d08a2c", "#5a9e4b", "#a04040"]


def ratio_chart(path, labels, series, data, title, ylabel, log, rotate, note, warn):
    """data[i][j]: the bar of series j at labels[i], grouped by label; NaN: no bar.
    series: the legend's names, or [None] for one series and no legend. log: a log
    y axis (ratios that span decades), else linear from 0. rotate: the labels' angle.
    note and warn: the caller's progress and warning lines (stdout is its table)."""
    legend = any(series)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, ax = plt.subplots(figsize=(max(6, 1 + 0.6 * len(labels) * len(series)), 4.8))
        width = 0.8 / len(series)
        for j, s in enumerate(series):
            ax.bar([i + j * width for i in range(len(labels))], [d[j] for d in data], width, label=s,
                   color=COLOURS[j % len(COLOURS)])
        ax.axhline(1.0, color="black", linewidth=1)
        if log:
            ax.set_yscale("log")
            finite = [x for d in data for x in d if math.isfinite(x) and x > 0]
            ax.set_ylim(bottom=min([0.5] + [x / 2 for x in finite]))  # bars grow from the bottom
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))], labels, rotation=rotate, ha="right")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        if legend:
            ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        note(f"chart written to {path}")
        return
    if not shutil.which("gnuplot"):
        warn("--plot: neither matplotlib nor gnuplot (Debian package gnuplot-nox) is available; no chart")
        return
    script = path + ".gp"
    with open(script, "w") as f:
        f.write("set datafile missing \"NaN\"\n$ratios << EOD\n")
        for label, d in zip(labels, data):
            f.write(f"\"{label}\" " + " ".join(f"{x:.4f}" if math.isfinite(x) else "NaN" for x in d) + "\n")
        f.write("EOD\n")
        f.write(f"set terminal pngcairo size {max(640, 400 + 40 * len(labels) * len(series))},480 noenhanced\n")
        gp_title = title.replace("\n", "\\n")  # gnuplot's own escape inside "..."
        f.write(f"set output \"{path}\"\nset title \"{gp_title}\"\n")
        f.write("set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
                + ("set logscale y\n" if log else "set yrange [0:*]\n")
                + f"set grid ytics\nset xtics rotate by -{rotate}\nset ylabel \"{ylabel}\"\n"
                + ("set key top left\n" if legend else "unset key\n"))
        f.write("plot " + ", ".join(f"$ratios using {j + 2}:xtic(1)" + (f" title \"{s}\"" if s else "")
                                    + f" lc rgb \"{COLOURS[j % len(COLOURS)]}\"" for j, s in enumerate(series))
                + ", 1 with lines lc rgb \"black\" notitle\n")
    # gnuplot's messages are kept for the warning: stdout is the caller's table, PASSED last.
    r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    if r.returncode != 0 or '"' in path:
        warn(f"--plot: gnuplot failed on {script}: {r.stderr.strip()[-200:]}; no chart")
    else:
        note(f"chart written to {path} (gnuplot script {script})")
