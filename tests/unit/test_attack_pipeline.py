"""The one attack pipeline (arena/attack/pipeline.py): strategy selection, search, query budget, and
its users (the campaign's Attacker, `arena attack`) reading the same config."""

from __future__ import annotations

import json

import pytest

from arena.attack import list_strategies
from arena.attack.pipeline import AttackPipeline, llm_params, select_strategies, validity_rules
from arena.config import load_config
from arena.errors import ConfigError

TEXT = "you are such a stupid idiot and a total moron"


def _nonletters(t: str) -> float:
    return max(0.0, 0.95 - 0.05 * sum(not (c.isalpha() or c == " ") for c in t))


class CountingScorer:
    """Counts the texts it scores; P(toxic) = ``rule(text)`` (default: falls with every non-letter character)."""

    version = "stub"
    threshold = 0.5

    def __init__(self, rule=_nonletters) -> None:
        self.queries, self.rule = 0, rule

    def score(self, texts):
        texts = list(texts)
        self.queries += len(texts)
        return [self.rule(t) for t in texts]


def test_all_means_one_thing():
    infos = {i.name: i for i in list_strategies()}
    llm = {n for n, i in infos.items() if "llm" in i.families}
    assert llm, "the LLM family should be registered"
    assert set(select_strategies("all")) == set(infos) - llm
    assert set(select_strategies("all", llm=True)) == set(infos)
    assert "leet" not in select_strategies("all", exclude=["leet"])
    assert select_strategies("leet, homoglyph") == ["leet", "homoglyph"]
    assert select_strategies(["leet", "all"], llm=False)[0] == "leet"
    with pytest.raises(ConfigError, match="unknown strategy 'homoglyf'; known: all, .*homoglyph"):
        select_strategies("homoglyf")
    with pytest.raises(ConfigError, match="no strategy given"):
        select_strategies(" , ")


def test_eval_and_campaign_share_the_definition():
    from arena.evaluate import resolve_strategies

    assert resolve_strategies("all") == select_strategies("all", llm=False)


def test_greedy_targets_and_counts_every_query():
    pipe = AttackPipeline.from_config(load_config(None), ["leet", "homoglyph"])
    scorer = CountingScorer()
    res = pipe.attack_text(TEXT, scorer, seed=3, n=2)
    words = len(TEXT.split())
    scored = [c for c in res.candidates if c.score is not None]
    assert res.queries == scorer.queries == 1 + words + len(scored)  # original + deletions + candidates
    assert scored and [c.score for c in scored] == sorted(c.score for c in scored)
    assert res.original_score == pytest.approx(0.95)


def test_random_search_makes_no_importance_queries():
    pipe = AttackPipeline.from_config(load_config(None, ["attack.search=random"]), ["leet"])
    assert not pipe.targeted
    scorer = CountingScorer()
    res = pipe.attack_text(TEXT, scorer, seed=3, n=2)
    assert res.queries == scorer.queries == 1 + sum(c.score is not None for c in res.candidates)
    none = AttackPipeline.from_config(load_config(None, ["attack.search=none"]), ["leet"])
    assert not none.targeted


def test_query_budget_caps_importance_and_candidates():
    cfg = load_config(None, ["attack.query_budget=5"])
    pipe = AttackPipeline.from_config(cfg, ["leet", "homoglyph"])
    assert pipe.importance_words == 4
    scorer = CountingScorer()
    res = pipe.attack_text(TEXT, scorer, seed=1, n=3)
    # importance: the text + 4 deletions = 5 queries, nothing left for any strategy's candidates
    assert res.queries == scorer.queries == 5
    assert all(c.score is None for c in res.candidates) and res.candidates
    # 14: the text + its 10 words' deletions = 11 queries, 3 left for each strategy's candidates
    pipe = AttackPipeline.from_config(load_config(None, ["attack.query_budget=14"]), ["leet", "homoglyph"])
    scorer = CountingScorer()
    res = pipe.attack_text(TEXT, scorer, seed=1, n=6)
    per = {s: sum(c.score is not None and c.strategy == s for c in res.candidates) for s in ("leet", "homoglyph")}
    valid = {s: sum(c.valid and c.strategy == s for c in res.candidates) for s in ("leet", "homoglyph")}
    assert per == {s: min(3, valid[s]) for s in per} and max(valid.values()) > 3
    assert res.queries == scorer.queries == 11 + sum(per.values())


def test_campaign_attacker_honours_query_budget_and_search():
    from arena.arena import Attacker

    cfg = load_config(None, ["attack.query_budget=6"])
    att = Attacker(cfg, ["leet"], progress=False)
    assert att.pipeline.importance_words == 5
    scorer = CountingScorer()
    items = [("a", TEXT), ("b", "what an idiot you are")]
    results = att.attack(items, lambda k: "leet", 0, scorer, n=3, targeted=True)
    assert all(q <= 6 for _, _, q in results)
    cfg = load_config(None, ["attack.search=random"])
    assert not Attacker(cfg, ["leet"], progress=False).pipeline.targeted


def test_batched_attacks_share_the_one_per_attack_cap():
    """attack_many (the campaign's batched form) caps each attack as attack_text does: the text's
    importance queries plus at most what the budget leaves for its scored candidates."""
    pipe = AttackPipeline.from_config(load_config(None, ["attack.query_budget=14"]), ["homoglyph"])
    scorer = CountingScorer()
    items = [("a", TEXT), ("b", TEXT.replace("moron", "clown"))]
    results = pipe.attack_many(items, lambda k: "homoglyph", 3, scorer, n=6, targeted=True)
    one = pipe.attack_text(TEXT, CountingScorer(), seed=1, n=6)
    assert sum(c.valid for c in one.candidates) > 3  # so the cap binds
    assert [q for _, _, q in results] == [14, 14]  # 11 importance queries + 3 candidates each
    assert scorer.queries == 28 and all(c is not None and c.score is not None for _, c, _ in results)
    # untargeted, no scorer: the first valid candidate of each text, nothing queried
    results = pipe.attack_many(items, lambda k: "homoglyph", 3, None, n=2, targeted=False)
    assert [q for _, _, q in results] == [0, 0] and all(c is not None and c.valid for _, c, _ in results)


def test_constraints_and_llm_params_come_from_config():
    cfg = load_config(None, ["attack.max_edit_ratio=0.05", "attack.llm.backend=openai",
                             "attack.llm.model=m", "attack.llm.base_url=http://127.0.0.1:1/v1"])
    assert validity_rules(cfg.attack).max_edit_ratio == 0.05
    p = llm_params(cfg.attack.llm)
    assert p["backend"] == "openai" and p["backend_kwargs"] == {"model": "m", "base_url": "http://127.0.0.1:1/v1"}
    with pytest.raises(ConfigError, match="attack.search must be one of"):
        AttackPipeline(["leet"], search="beam")
    with pytest.raises(ConfigError, match="unknown"):
        AttackPipeline(["nope"])


def test_engine_kwargs_reach_the_backend_constructor(repo_root):
    """attack.llm.engine_kwargs (configs/gpu.yaml's, plus an override) arrive in the backend the LLM strategy
    builds, next to the model; nothing is loaded (vLLM is imported only by generate)."""
    cfg = load_config(repo_root / "configs/gpu.yaml", ["attack.llm.model=/models/x.gguf",
                                                       "attack.llm.engine_kwargs.tokenizer=/models/x-hf"])
    strategy = AttackPipeline.from_config(cfg, "llm_rewrite").strategy("llm_rewrite")
    backend = strategy.llm()
    assert type(backend).__name__ == "VLLMBackend" and backend._llm is None
    assert (backend.model, backend.gpu_memory_utilization, backend.max_model_len) == ("/models/x.gguf", 0.2, 1024)
    assert backend.engine_kwargs == {"enforce_eager": True, "tokenizer": "/models/x-hf"}
    assert backend.llm_kwargs() == {"model": "/models/x.gguf", "gpu_memory_utilization": 0.2, "max_model_len": 1024,
                                    "dtype": "float16", "enforce_eager": True, "tokenizer": "/models/x-hf"}
    # another backend gets them too: one it does not take is the backend's config error
    cfg = load_config(None, ["attack.llm.engine_kwargs={n_ctx: 512, no_such_arg: 1}"])
    with pytest.raises(ConfigError, match="llama_cpp"):
        AttackPipeline.from_config(cfg, "llm_rewrite").strategy("llm_rewrite").llm()


@pytest.mark.parametrize(("override", "match"), [
    ("attack.llm.engine_kwargs=5", r"attack\.llm\.engine_kwargs: Input should be a valid dictionary"),
    ("attack.llm.engine_kwargs=[enforce_eager]", r"attack\.llm\.engine_kwargs: Input should be a valid dictionary"),
    ("attack.llm.engine_kwargs={model: m}", r"attack\.llm\.engine_kwargs: .*model \(use attack\.llm\.model\)"),
    ("attack.llm.engine_kwargs={api_key: k}", r"attack\.llm\.engine_kwargs: .*OPENAI_API_KEY"),
])
def test_engine_kwargs_of_the_wrong_kind_are_a_config_error(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, [override])


def test_arena_attack_cli_applies_the_config(tmp_path, capsys):
    from arena.cli import main

    out = tmp_path / "run"  # no champion here: candidates are listed unscored
    assert main(["attack", TEXT, "--strategy", "leet", "--n", "3", "--json", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(r["strategy"] == "leet" and r["score"] is None for r in rows)
    assert any(r["valid"] for r in rows)
    assert main(["attack", TEXT, "--strategy", "leet", "--n", "3", "--json", "--out", str(out),
                 "--set", "attack.max_edit_ratio=0.01"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and not any(r["valid"] for r in rows)  # the config's validity limit applied


def WordScorer() -> CountingScorer:  # noqa: N802 (a scorer factory, read like a class)
    """P(toxic) = 0.9 with both plain words ``idiot`` and ``moron`` in the text, 0.6 with one, 0.3 with neither."""
    return CountingScorer(lambda t: 0.3 + 0.3 * len({"idiot", "moron"} & set(t.lower().split())))


def test_greedy_words_is_the_word_by_word_search_within_the_budget():
    """attack.search=greedy_words runs GreedySearch through the pipeline: both insults must be rewritten
    (two accepted steps) before the label flips, as TextAttack's greedy word-importance search does."""
    cfg = load_config(None, ["attack.search=greedy_words", "attack.query_budget=40"])
    pipe = AttackPipeline.from_config(cfg, ["homoglyph"])
    assert pipe.targeted
    scorer = WordScorer()
    res = pipe.attack_text("you are an idiot and a moron", scorer, seed=1, n=2)
    assert res.original_score == pytest.approx(0.9) and res.queries == scorer.queries <= 40
    best = res.candidates[0]
    assert best.score == pytest.approx(0.3) and best.valid
    steps = best.params["steps"]
    assert len(steps) == 2 and {s["strategy"] for s in steps} == {"homoglyph"}
    # the campaign's batched form: same search, the record names the one strategy
    scorer2 = WordScorer()
    [(k, cand, queries)] = pipe.attack_many([("t1", "you are an idiot and a moron")], lambda _k: "homoglyph", 5,
                                            scorer2, n=2, targeted=True)
    assert k == 0 and cand.strategy == "homoglyph" and cand.score == pytest.approx(0.3) and queries == scorer2.queries <= 40
    # a budget too small for both steps: no flip, and never a query over it
    tight = AttackPipeline.from_config(load_config(None, ["attack.search=greedy_words", "attack.query_budget=9"]),
                                       ["homoglyph"])
    scorer3 = WordScorer()
    res3 = tight.attack_text("you are an idiot and a moron", scorer3, seed=1, n=2)
    assert scorer3.queries <= 9 and all(c.score > 0.5 for c in res3.candidates)


def test_arena_attack_seeds_reproduce_each_candidate(tmp_path, capsys):
    """Every candidate `arena attack` prints carries the seed that regenerates it: the strategy called
    again with that seed (and the same budget) writes the same text."""
    from arena.attack import get_strategy
    from arena.cli import main

    out = tmp_path / "run"
    assert main(["attack", TEXT, "--strategy", "leet,typos", "--n", "3", "--seed", "7", "--json",
                 "--out", str(out)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["strategy"] for r in rows} == {"leet", "typos"}
    budget = load_config(None).attack.budget
    for r in rows:
        [again] = get_strategy(r["strategy"])(TEXT, r["seed"], budget, 1)
        assert again.text == r["text"] and again.seed == r["seed"]
    assert len({(r["strategy"], r["seed"]) for r in rows}) == len(rows)  # (strategy, seed) names one candidate
    assert main(["attack", TEXT, "--strategy", "leet,typos", "--n", "3", "--seed", "7", "--json",
                 "--out", str(out)]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == rows  # same seed, same rows


def test_serve_attacker_all_honours_the_config(tmp_path):
    """The Serve attacker's "all" is the pipeline's: the config's attack.exclude and no LLM family."""
    from arena.serve.deployments import AttackerDeployment
    from arena.serve.schemas import AppArgs

    args = AppArgs(out_dir=str(tmp_path), config_overrides=["attack.exclude=[leet, emoji]"])
    names = AttackerDeployment(args, defender=None).pipeline.strategies
    assert names == [n for n in select_strategies("all", llm=False) if n not in {"leet", "emoji"}]
    assert "typos" in names and not {"leet", "emoji"} & set(names)
