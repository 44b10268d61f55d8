"""The training dialog's result: the start and the best weights side by side in plain words,
the name to keep the model under, Keep and Discard, and, whenever Keep cannot be pressed,
the reason next to it."""

from __future__ import annotations

from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

COLUMNS = ["Model", "Validation score", "Step"]  # the score's header is titled by the run's metric


class ResultPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Result", parent)
        self.report = QTableWidget(0, len(COLUMNS))
        self.report.setHorizontalHeaderLabels(COLUMNS)
        self.report.verticalHeader().setVisible(False)
        header = self.report.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.report.setMaximumHeight(110)
        self.name = QLineEdit("my-denoiser")
        self.name.setToolTip("The model's name in your library (letters, digits, - _ .)")
        self.keep_button = QPushButton("Keep")
        self.discard_button = QPushButton("Discard")
        self.keep_reason = QLabel("")  # why Keep is greyed, whenever it is
        self.keep_reason.setObjectName("keep_reason")
        self.keep_reason.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name, 1)
        row.addWidget(self.keep_button)
        row.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.report)
        layout.addLayout(row)
        layout.addWidget(self.keep_reason)

    def show_report(self, trainer, start_metrics: dict | None) -> None:
        """The starting weights and the best ones, each with its validation score, and what a
        user has without training (NL-Means for a calibration) on the same photos."""
        t = trainer
        rows = []
        if start_metrics and t.metric in start_metrics:
            rows.append(("Starting model" if t.config.base else "Untrained network", start_metrics, 0))
        if t.improved and t.metric in t.best:
            rows.append(("Trained (best)", t.best, t.best["step"]))
        rows += [(label, {t.metric: score}, "") for label, score in t.baselines.items()]
        metric = t.spec.metric
        title = f"Validation {metric.title}" + (f" ({metric.explanation})" if metric.explanation != "higher is better"
                                                  and not metric.unit.startswith("(") else "")
        self.report.setHorizontalHeaderLabels([COLUMNS[0], title, COLUMNS[2]])
        self.report.setRowCount(len(rows))
        for r, (label, metrics, step) in enumerate(rows):
            score = t.score_text(metrics)
            if t.metric != "val_psnr" and "val_psnr" in metrics:  # clean references were found
                score += f", PSNR {metrics['val_psnr']:.2f} dB"
            for c, text in enumerate((label, score, str(step))):
                self.report.setItem(r, c, QTableWidgetItem(text))
        self.report.resizeColumnsToContents()

    def clear(self) -> None:
        self.report.setRowCount(0)
        self.report.setHorizontalHeaderLabels(COLUMNS)

    def rows(self) -> list[list[str]]:
        return [[self.report.item(r, c).text() for c in range(self.report.columnCount())]
                for r in range(self.report.rowCount())]

    def set_keep(self, reason: str | None, can_discard: bool) -> None:
        """Keep enabled when `reason` is None; otherwise greyed with the reason shown."""
        self.keep_button.setEnabled(reason is None)
        self.keep_button.setToolTip(reason or "Add the best weights to your library under this name")
        self.keep_reason.setText(reason or "")
        self.keep_reason.setVisible(bool(reason))
        self.discard_button.setEnabled(can_discard)
