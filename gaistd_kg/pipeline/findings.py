"""What validation finds: one finding per problem, located at file:line when known, and the result of a validation."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph


@dataclass(frozen=True)
class Finding:
    severity: str          # "Violation", "Warning" or "Info"
    focus: str             # the resource, as a prefixed name where possible
    path: str | None       # the property, as a prefixed name
    message: str
    shape: str | None
    component: str | None  # the SHACL constraint component, e.g. sh:MinCountConstraintComponent
    value: str | None
    where: str | None = None  # file:line of the resource, when known

    def line(self) -> str:
        loc = f"{self.where}: " if self.where else ""
        prop = f" {self.path}" if self.path else ""
        val = f" (value: {self.value})" if self.value else ""
        shape = f" [{self.shape}]" if self.shape else ""
        return f"{loc}{self.severity}: {self.focus}{prop}: {self.message}{val}{shape}"


@dataclass
class ValidationResult:
    conforms: bool
    findings: list[Finding] = field(default_factory=list)
    report_graph: Graph | None = None

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "Violation"]

    def text(self) -> str:
        if not self.findings:
            return "Conforms: the data satisfies every shape."
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        head = ", ".join(f"{n} {sev.lower()}{'s' if n > 1 else ''}" for sev, n in sorted(counts.items()))
        lines = [f"{'Does not conform' if not self.conforms else 'Conforms'}: {head}."]
        lines += [f.line() for f in sorted(self.findings, key=lambda f: (f.where or "", f.focus, f.path or ""))]
        return "\n".join(lines)
