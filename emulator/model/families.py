"""Model families: a teacher and its compact students, with their published quality (issue 21).

Distillation is a choice of model: a request may run a student of its model's family instead of
the model itself (``Decision.model``). A family names its teacher, its members (the teacher
first) and, per member, one published quality number on a task the family shares, with its
source. The numbers are for reading and for policies that compare members; they are the
authors' published values, not measured here.

Members are catalog names (:class:`~coinfer.emulator.model.catalog.ModelCatalog`): a student is
built at the teacher's pass size (sequence length). A student need not be a distilled model in
the strict sense; :attr:`FamilyMember.relation` says what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.profiles import ModelProfile


@dataclass(frozen=True)
class FamilyMember:
    """One model of a family and its published quality."""

    model: str  #: catalog name, e.g. ``"distilbert-base"``
    relation: str  #: ``"teacher"``, ``"distilled"`` or ``"smaller sibling"``
    #: published quality on the family's metric (None: not published on it)
    quality: float | None
    source: str  #: where the quality number comes from


@dataclass(frozen=True)
class ModelFamily:
    """A teacher and its students, all scored on one metric."""

    name: str
    metric: str  #: e.g. ``"glue_score"``: higher is better unless ``lower_is_better``
    lower_is_better: bool
    members: tuple[FamilyMember, ...]  #: the teacher first

    @property
    def teacher(self) -> str:
        """The family's full-size model."""
        return self.members[0].model

    @property
    def students(self) -> tuple[str, ...]:
        """Every member but the teacher, in declaration order."""
        return tuple(member.model for member in self.members[1:])

    def member(self, model: str) -> FamilyMember:
        """The member named ``model`` (InputError naming the family's members otherwise)."""
        for member in self.members:
            if member.model == model:
                return member
        names = ", ".join(m.model for m in self.members)
        raise InputError(
            f"model: got {model!r}, expected a member of family {self.name!r}: {names}",
            path="model",
            value=model,
            expected=f"one of {names}",
        )


_DISTILBERT = "Sanh et al. 2019, DistilBERT, Table 1 (GLUE dev macro-score)"
_GPT2 = (
    "Radford et al. 2019, Language Models are Unsupervised Multitask Learners, zero-shot "
    "WikiText2 perplexity, as reproduced in the Hugging Face model cards of gpt2 and gpt2-xl "
    "('Evaluation results'); the paper's own table was not opened when this was checked"
)

#: The built-in families.
BUILTIN_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        "bert",
        "glue_score",
        False,
        (
            FamilyMember("bert-base", "teacher", 79.5, _DISTILBERT),
            FamilyMember("distilbert-base", "distilled", 77.0, _DISTILBERT),
        ),
    ),
    ModelFamily(
        "llama-3",
        "mmlu_5shot",
        False,
        (
            FamilyMember(
                "llama-3-8b",
                "teacher",
                66.6,
                "Meta Llama 3 model card (meta-llama/llama3, MODEL_CARD.md, commit 13e795f9), "
                "'Base pretrained models', MMLU (5-shot), Llama 3 8B",
            ),
            FamilyMember(
                "llama-3.2-1b",
                "distilled",
                32.2,
                "Meta Llama 3.2 model card (meta-llama/llama-models, models/llama3_2/"
                "MODEL_CARD.md, commit 1156e867), 'Base Pretrained Models', MMLU, 5 shots, "
                "macro_avg/acc_char, Llama 3.2 1B (trained on Llama 3.1 8B/70B logits; the same "
                "row gives Llama 3.1 8B 66.7)",
            ),
            FamilyMember(
                "tinyllama-1.1b",
                "smaller sibling",
                None,
                "Zhang et al. 2024, TinyLlama: trained from scratch; no MMLU published",
            ),
        ),
    ),
    ModelFamily(
        "gpt2",
        "wikitext2_perplexity",
        True,
        (
            FamilyMember("gpt2-xl", "teacher", 18.34, _GPT2),
            FamilyMember("gpt2", "smaller sibling", 29.41, _GPT2),
        ),
    ),
)


def family_of(
    model: str, families: tuple[ModelFamily, ...] = BUILTIN_FAMILIES
) -> ModelFamily | None:
    """The family whose teacher is ``model`` (None: the model has no students)."""
    for family in families:
        if family.teacher == model:
            return family
    return None


def students_of(
    model: str, families: tuple[ModelFamily, ...] = BUILTIN_FAMILIES
) -> tuple[str, ...]:
    """The students a request of ``model`` may run instead (empty: none)."""
    family = family_of(model, families)
    return () if family is None else family.students


def member_profile(teacher: ModelProfile, member: str) -> ModelProfile:
    """The profile of ``member`` (a catalog name) at ``teacher``'s pass size: its sequence
    length for text models; remembered (a profile costs a few hundred microseconds)."""
    return _member_profile(member, teacher.sequence_length)


@lru_cache(maxsize=64)
def _member_profile(member: str, sequence_length: int | None) -> ModelProfile:
    catalog = ModelCatalog.builtin()
    if catalog.size_parameter(member) == "sequence_length":
        return catalog.get(member, sequence_length=sequence_length)
    return catalog.get(member)
