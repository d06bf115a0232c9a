"""`ordering` grader: put steps in an order the dependency graph allows, leaving distractors out.

Spec shape:

    items:
      - {id: final-questions, text: "Ask your last questions"}
      - {id: invite-concerns, text: "Ask if anything holds them back", after: [final-questions],
         feedback: "Shown when this step comes too early"}
    distractors:                     # optional: steps that do not belong in the answer at all
      - {id: ask-start-date, text: "Ask when you can start", feedback: "Why it does not belong"}
    partial_credit: lcs              # optional: lcs (default) or none (all or nothing)

The answer key is a DAG: `after` lists the steps that must come earlier. Any topological order of
the DAG scores 1.0, so two steps the articles allow in either order may be swapped freely.

Partial credit (`lcs`) follows PrairieLearn's pl-order-blocks `grading-method="dag"` with
`partial-credit="lcs"`: the score is max(0, 1 - edits / number of items), where edits is the least
number of insertions and deletions that turn the answer into *some* topological order. See
`min_edits` for how that is computed without enumerating the orders.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graders.base import Check, Context, Grader, InvalidAnswer, Result, SpecIssue, register
from graders.schema import SpecModel, Text, compile_model, listed, unique_ids
from graders.structured import EntryModel, check_id, entries_field, entry_ids, finish

# More steps than this is not one exercise; the cap also bounds the matching's recursion depth.
MAX_ITEMS = 40
# present() reshuffles at most this often when a shuffle happens to be a valid order already.
MAX_RESHUFFLES = 100


@dataclass(frozen=True)
class Step:
    """One step of the answer key: what must come before it and what to say when it comes too early."""

    id: str
    text: str
    after: tuple[str, ...]
    feedback: str


@dataclass(frozen=True)
class Distractor:
    """A step that does not belong in the answer."""

    id: str
    text: str
    feedback: str


@dataclass(frozen=True)
class OrderingSpec:
    """A compiled ordering spec; `before[i]` is a bitmask of every step that must precede step i."""

    items: tuple[Step, ...]
    distractors: tuple[Distractor, ...]
    partial_credit: str
    index: tuple[tuple[str, int], ...]  # item id -> position in `items`
    before: tuple[int, ...]  # transitive predecessors of each item, as bitmasks over item positions

    def position(self, ident: str) -> int | None:
        """Return an item's position in `items`, or None for distractors and unknown ids."""
        return dict(self.index).get(ident)

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Item ids in authored order."""
        return tuple(s.id for s in self.items)

    @property
    def distractor_ids(self) -> tuple[str, ...]:
        """Distractor ids in authored order."""
        return tuple(d.id for d in self.distractors)


class StepModel(EntryModel):
    """One step as written: the steps that must come before it, and what to say when it comes too early."""

    after: list[Text] = []
    feedback: str = ""


class DistractorModel(EntryModel):
    """A step that does not belong in the answer."""

    feedback: str = ""


class OrderingModel(SpecModel):
    """The `spec:` of an ordering exercise."""

    items: list[StepModel] = entries_field()
    distractors: list[DistractorModel] = []
    partial_credit: Literal["lcs", "none"] = "lcs"

    def problems(self, path: str) -> list[SpecIssue]:
        """Ids unique across both lists, every `after` a known step, no cycle, not too many steps, some `after`."""
        issues: list[SpecIssue] = []
        items, distractors = listed(self.items), listed(self.distractors)
        unique_ids(entry_ids(f"{path}.items", self.items), issues)
        unique_ids(entry_ids(f"{path}.distractors", self.distractors), issues)
        # Ids must be unique across items and distractors, since both arrive in the same answer list.
        item_ids = [e.id for _, e in items if e.id]
        distractor_ids = {e.id for _, e in distractors}
        for i, e in distractors:
            if e.id in item_ids:
                issues.append(SpecIssue(f"{path}.distractors[{i}].id",
                                        f"duplicate id {e.id!r} (also a step in spec.items)"))
        deps: dict[str, list[str]] = {}
        for i, e in items:
            good = []
            for k, dep in enumerate(e.after or ()):
                where = f"{path}.items[{i}].after[{k}]"
                if dep == e.id:
                    issues.append(SpecIssue(where, f"step {dep!r} cannot come after itself"))
                elif dep in distractor_ids:
                    issues.append(SpecIssue(where, f"{dep!r} is a distractor; steps cannot depend on it"))
                elif dep not in item_ids:
                    issues.append(SpecIssue(where, f"unknown step {dep!r} (steps are: {', '.join(item_ids)})"))
                else:
                    good.append(dep)
            if e.id:
                deps.setdefault(e.id, good)
        cycle = find_cycle(deps)
        if cycle:
            issues.append(SpecIssue(f"{path}.items", "the `after` dependencies form a cycle: " + " -> ".join(cycle)))
        if len(items) > MAX_ITEMS:
            issues.append(SpecIssue(f"{path}.items", f"has {len(items)} steps; split it, at most {MAX_ITEMS} are "
                                                     "allowed"))
        if len(deps) >= 2 and not any(e.after for _, e in items):
            issues.append(SpecIssue(f"{path}.items", "no step has `after`, so every order would be correct"))
        return issues


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as a closed path [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in deps:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters = [iter(deps[start])]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(deps.get(nxt, ())))
    return None


def compile_ordering(spec: Mapping[str, Any]) -> OrderingSpec:
    """Validate the steps, distractors and dependency graph (see OrderingModel); precompute predecessors."""
    m = compile_model(OrderingModel, spec)
    item_ids = [e.id for e in m.items]
    deps = {e.id: list(e.after) for e in m.items}
    pos = {ident: i for i, ident in enumerate(item_ids)}
    before = [0] * len(item_ids)
    # Closure in topological order: a step's predecessors are its deps plus their predecessors.
    for ident in topological_order(item_ids, deps):
        mask = 0
        for dep in deps[ident]:
            mask |= (1 << pos[dep]) | before[pos[dep]]
        before[pos[ident]] = mask
    return OrderingSpec(
        items=tuple(Step(e.id, e.text, tuple(e.after), e.feedback) for e in m.items),
        distractors=tuple(Distractor(e.id, e.text, e.feedback) for e in m.distractors),
        partial_credit=m.partial_credit,
        index=tuple(pos.items()),
        before=tuple(before),
    )


def topological_order(ids: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Return a topological order that keeps the authored order wherever the graph allows."""
    done: set[str] = set()
    out: list[str] = []
    remaining = list(ids)
    while remaining:
        nxt = next(i for i in remaining if all(d in done for d in deps[i]))
        remaining.remove(nxt)
        done.add(nxt)
        out.append(nxt)
    return out


def min_edits(before: Sequence[int], answer: Sequence[int]) -> int:
    """Least insertions + deletions turning `answer` (distinct item positions) into some topological order.

    Let n = len(before), A = the answer (items only; distractors are counted by the caller), and
    edits(A, T) = |A| + n - 2 * LCS(A, T) for a topological order T. So we need the largest
    subsequence S of A that is also a subsequence of *some* topological order.

    Claim 1: S is such a subsequence iff no pair in S is inverted, i.e. no u before v in S with v a
    (transitive) predecessor of u. Necessity is clear. Sufficiency: add edges s1->s2->...->sk to the DAG.
    Walking any cycle, each added edge moves forward in S, and each DAG path from one S element to
    another also moves forward (a DAG path x ~> y makes x a predecessor of y, and S has no inversions),
    so the walk could never return to its start: the graph stays acyclic, and any topological order of it
    is a topological order of the DAG holding S in order. Missing items are placed by that order too.

    Claim 2: "i inverts j" (i earlier in A than j, A[j] a predecessor of A[i]) is a strict partial order
    on answer positions: if i inverts j and j inverts k then i < k and A[k] precedes A[j] precedes A[i].
    S is an antichain of it, so by Dilworth |S max| = the minimum chain cover = |A| - M, where M is a
    maximum matching in the bipartite graph of inversion pairs (Fulkerson's reduction; the order is
    transitive, so path cover equals chain cover).

    Hence edits = (|A| - |S|) deletions + (n - |S|) insertions = (n - |A|) + 2M.
    Kuhn's augmenting-path matching is O(|A| * pairs): microseconds for a dozen steps. (PrairieLearn finds
    the same deletions as a minimum vertex cover of the inversion graph by trying subsets, see
    arXiv:2204.04196; the cover is what S leaves out, so it has size |A| - |S| = M and the two agree;
    tests/test_ordering.py checks its published examples.)
    """
    k = len(answer)
    # inverted[i]: later answer positions j whose item must precede answer[i].
    inverted: list[list[int]] = []
    any_inversion = False
    for i in range(k):
        need = before[answer[i]]
        row = [j for j in range(i + 1, k) if need >> answer[j] & 1] if need else []
        any_inversion = any_inversion or bool(row)
        inverted.append(row)
    missing = len(before) - k
    if not any_inversion:
        return missing
    match_of: list[int] = [-1] * k  # right vertex j -> left vertex i matched to it

    def augment(i: int, seen: list[bool]) -> bool:
        """Try to match left vertex i, re-routing earlier matches (Kuhn's algorithm)."""
        for j in inverted[i]:
            if not seen[j]:
                seen[j] = True
                if match_of[j] < 0 or augment(match_of[j], seen):
                    match_of[j] = i
                    return True
        return False

    matching = sum(1 for i in range(k) if inverted[i] and augment(i, [False] * k))
    return missing + 2 * matching


def first_misplaced(before: Sequence[int], answer: Sequence[int]) -> int | None:
    """Return the index in `answer` of the first step placed before one of its predecessors, or None."""
    placed = 0
    for n, item in enumerate(answer):
        if before[item] & ~placed:
            return n
        placed |= 1 << item
    return None


def is_valid_order(compiled: OrderingSpec, ids: Sequence[str]) -> bool:
    """Return True when `ids` holds every step, no distractor, and respects every dependency."""
    index = dict(compiled.index)
    if len(ids) != len(compiled.items) or any(i not in index for i in ids):
        return False
    return first_misplaced(compiled.before, [index[i] for i in ids]) is None


def describe_key(key: Mapping[str, Any]) -> list[str]:
    """Describe an answer key for people (`course show`): each step with its id and the steps it must come after."""
    lines = []
    for item in key.get("items", ()):
        after = ", ".join(item.get("after", ())) or "(can come first)"
        lines.append(f"{item['id']}: {item['text']}\n      after: {after}")
    for item in key.get("distractors", ()):
        lines.append(f"{item['id']}: {item['text']}\n      distractor: leave out")
    return lines


@register
class OrderingGrader(Grader):
    """Dependency-graph ordering with distractors and LCS partial credit."""

    type_name = "ordering"
    version = "2"  # 2: learner-facing messages name steps by their text only
    spec_model = OrderingModel

    def compile(self, spec: Mapping[str, Any]) -> OrderingSpec:
        """Validate the spec and precompute each step's transitive predecessors."""
        return compile_ordering(spec)

    def parse(self, compiled: OrderingSpec, raw: Any) -> tuple[str, ...]:
        """Accept a list of ids, a JSON list, or "a,b,c" / one id per line; refuse unknown or repeated ids."""
        value = raw
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InvalidAnswer(f"The answer looks like a JSON list but does not parse: {exc.msg}.") from None
            else:
                sep = "\n" if "\n" in text else ","
                value = [part for part in text.split(sep) if part.strip()]
        if not isinstance(value, list | tuple):
            raise InvalidAnswer("The answer must be a list of step ids in order.")
        known = set(compiled.item_ids) | set(compiled.distractor_ids)
        out: list[str] = []
        for n, item in enumerate(value, start=1):
            ident = check_id(item, f"Step {n}")
            if ident not in known:
                raise InvalidAnswer(f"Step {n} is {ident!r}, which is not one of the steps shown.")
            if ident in out:
                raise InvalidAnswer(f"Step {ident!r} appears twice (positions {out.index(ident) + 1} and {n}).")
            out.append(ident)
        if not out:
            raise InvalidAnswer("The answer is empty: put the steps in order.")
        return tuple(out)

    def grade(self, compiled: OrderingSpec, answer: tuple[str, ...], ctx: Context) -> Result:
        """Score by edit distance to the nearest valid order; flag distractors and the first misplaced step."""
        n = len(compiled.items)
        index = dict(compiled.index)
        steps = [index[i] for i in answer if i in index]
        chosen_distractors = [d for d in compiled.distractors if d.id in answer]
        edits = min_edits(compiled.before, steps) + len(chosen_distractors)
        checks: list[Check] = []

        if ctx.shown_order is not None and self._unchanged(compiled, answer, ctx.shown_order):
            message = ("This is the order you were shown, unchanged. Rearrange the steps first."
                       if answer == tuple(ctx.shown_order) else
                       "Apart from the cards you left out, this is the order you were shown. Rearrange the steps "
                       "too.")
            checks.append(Check(id="unchanged", passed=False, weight=1.0, required=True, earned=0.0,
                                message=message))
            return finish(0.0, checks, ctx, self.version)

        all_or_nothing = 1.0 if edits == 0 else 0.0
        score = max(0.0, 1.0 - edits / n) if compiled.partial_credit == "lcs" else all_or_nothing
        checks.append(self._order_check(compiled, answer, steps, score))
        missing = [s for s in compiled.items if s.id not in answer]
        if missing:
            # The learner sees step texts, never ids; instructors get the ids from the JSON result's check list.
            names = ", ".join(f"'{s.text}'" for s in missing)
            checks.append(Check(id="missing", passed=False, weight=0.0, earned=0.0,
                                message=f"Missing step{'s' if len(missing) > 1 else ''}: {names}."))
        if compiled.distractors:
            if chosen_distractors:
                for d in chosen_distractors:
                    checks.append(Check(id=f"distractor:{d.id}", passed=False, weight=0.0, required=True,
                                        earned=0.0,
                                        message=f"'{d.text}' does not belong in this sequence. {d.feedback}".strip()))
            else:
                checks.append(Check(id="distractors", passed=True, weight=0.0, earned=1.0,
                                    message="You left out the steps that do not belong."))
        return finish(score, checks, ctx, self.version)

    @staticmethod
    def _unchanged(compiled: OrderingSpec, answer: tuple[str, ...], shown: tuple[str, ...]) -> bool:
        """True when the answer is the shown order, as shown or with only the distractors taken out."""
        shown = tuple(shown)
        if answer == shown:
            return True
        distractors = set(compiled.distractor_ids)
        return bool(distractors) and answer == tuple(i for i in shown if i not in distractors)

    @staticmethod
    def _order_check(compiled: OrderingSpec, answer: tuple[str, ...], steps: list[int], score: float) -> Check:
        """The main check: the order itself, with feedback on the first step that comes too early."""
        bad = first_misplaced(compiled.before, steps)
        if bad is None:
            return Check(id="order", passed=True, weight=1.0, earned=score,
                         message="The steps you placed are in a workable order.")
        step = compiled.items[steps[bad]]
        placed = {compiled.items[i].id for i in steps[:bad]}
        texts = {s.id: s.text for s in compiled.items}
        # The first too-early step always has an unmet *direct* dependency: had every direct one been placed
        # earlier, each of those would have had its own predecessors placed earlier still (or been flagged
        # first), so every transitive predecessor would be placed too.
        unmet = [d for d in step.after if d not in placed]
        needs = " and ".join(f"'{texts[d]}'" + ("" if d in answer else " (missing)") for d in unmet)
        # Number steps as the learner sees them, distractors included.
        where = answer.index(step.id) + 1
        message = f"Step {where}, '{step.text}', comes too early: it belongs after {needs}."
        if step.feedback:
            message += f" {step.feedback}"
        return Check(id=f"order:{step.id}", passed=False, weight=1.0, earned=score, message=message)

    def present(self, compiled: OrderingSpec, seed: int) -> dict[str, Any]:
        """Every step and distractor, shuffled by seed into an order that is not already valid."""
        entries = [{"id": s.id, "text": s.text} for s in compiled.items]
        entries += [{"id": d.id, "text": d.text} for d in compiled.distractors]
        rng = random.Random(seed)
        for _ in range(MAX_RESHUFFLES):
            rng.shuffle(entries)
            steps_only = [e["id"] for e in entries if compiled.position(e["id"]) is not None]
            if not is_valid_order(compiled, steps_only):
                break
        return {"type": self.type_name, "items": entries, "shown_order": [e["id"] for e in entries]}

    def answer_key(self, compiled: OrderingSpec) -> dict[str, Any]:
        """One valid order, every step's dependencies and feedback, and the distractors."""
        deps = {s.id: s.after for s in compiled.items}
        return {
            "order": topological_order(compiled.item_ids, deps),
            "items": [{"id": s.id, "text": s.text, "after": list(s.after), "feedback": s.feedback}
                      for s in compiled.items],
            "distractors": [{"id": d.id, "text": d.text, "feedback": d.feedback} for d in compiled.distractors],
            "partial_credit": compiled.partial_credit,
        }
