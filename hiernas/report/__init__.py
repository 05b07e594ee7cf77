"""``hiernas report``: one self-contained HTML page comparing search runs.

    runs.py     each run directory read, in one journal snapshot, into plain data
    stats.py    best-so-far curves, spread over seeds, the top architectures, failure reasons
    style.py    strategy names and colours, number formats (shared by plots and tables)
    curves.py   the top candidates' learning curves (training loss, fitness per rung)
    figures.py  the plots, as matplotlib Figures on their own Agg canvases
    css.py      the page's stylesheet
    html.py     the page itself, with every image inline

``hiernas.commands.report`` ties them together and writes the files.
"""
