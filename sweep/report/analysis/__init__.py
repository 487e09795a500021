"""What a grid says beyond the histograms (docs/analysis.md): per family, the expected best
under a budget (``budget``), which settings matter (``importance``) and how often one
family beats another (``improvement``), on the trials ``population`` says stand for each
family; ``tables`` computes them and writes their CSVs, ``plots`` draws fig6_budget,
fig7_importance and fig2_ecdf, ``sections`` renders summary.md's sections."""
