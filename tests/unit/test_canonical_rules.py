"""The defender's two rule layers: the static canonicaliser and the mined variant -> word rules."""

from __future__ import annotations

import json

import pytest

from arena.attack import get_strategy
from arena.defend.canonical import STEPS, Canonicalizer, changed_token_share
from arena.defend.rules import Rule, RuleSet, admit_rules, candidate_pairs, mine_rules

CLEAN = [
    "what a lovely day at the beach with my family",
    "@USER I told you to stop but nooooo #MAGA URL",
    "version 1.2.3 ships on the 1st at 10am",
    "KKK is a hate group and xxx is a kiss",
    "don't forget the U.S.A. trip",
]


@pytest.fixture(scope="module")
def canon() -> Canonicalizer:
    return Canonicalizer()


@pytest.mark.parametrize("strategy", ["homoglyph", "invisible", "bidi", "diacritics", "leet", "separators",
                                      "masking", "leet_invisible", "homoglyph_diacritic"])
def test_rule_reversible_families_are_undone(canon, strategy):
    text = "you are a pathetic stupid idiot"
    undone = 0
    for seed in range(10):
        for cand in get_strategy(strategy)(text, seed, 3, 1, None):
            assert cand.text != text
            out = canon(cand.text).lower()
            # adjacent overridden words display right to left (UAX #9), so bidi is judged by its words
            undone += (sorted(out.split()) == sorted(text.split())) if strategy == "bidi" else out == text
    assert undone >= 6, f"{strategy}: only {undone}/10 attacks undone"  # lone "4" for "a" stays a number


@pytest.mark.parametrize(("attacked", "expected"), [
    ("\u202etoidi\u202c", "idiot"),  # bidi override: display order (UAX #9)
    ("f.u.c.k off", "fuck off"),
    ("f u c k you", "fuck you"),
    ("i m a dog", "i m a dog"),  # three spaced letters stay (too often real words)
    ("stuuuupid", "stupid"),
    ("1d10t", "idiot"),
    ("$hit", "shit"),
    ("f*ck", "fuck"),
    ("sh** happens", "shit happens"),  # masks prefer explicit words
    ("🅾k", "ok"),
    ("💩", "pile of poo"),
    ("this soiety is ashhamed", "this society is ashamed"),  # spell: one edit from a known word
    ("You STUPDI idoit", "You STUPID idiot"),  # case kept
    ("btich please", "bitch please"),  # the nearest words include a profanity: it wins (not "ditch")
    ("absolute treaso n.", "absolute treason."),  # merge_fragments: a word broken by a stray space
    ("she is sueles s", "she is useless"),  # merged, then spelled ("issueles" is two edits from "issues")
    ("use less and a fool", "use less and a fool"),  # two words stay two words
    ("lol maga libtard shud Scalise", "lol maga libtard shud Scalise"),  # vocabulary wordfreq lists
    ("QAnon SPLC tge @idoit #idoit", "QAnon SPLC tge @idoit #idoit"),  # names, acronyms, <4 letters, tags
    # devowel: an explicit word without (some of) its vowels; frequent vowel-less tokens, acronyms stay
    ("Fck this, so fcking stpd. sht", "Fuck this, so fucking stupid. shit"),
    ("smh tbh shi FCK @sht #fck kll", "smh tbh shi FCK @sht #fck kill"),
    ("hllo, I cnt wait", "hello, I cnt wait"),  # not explicit: spelled; cnt (Zipf 2.7: can't) is a word
])
def test_examples(canon, attacked, expected):
    assert canon(attacked) == expected


def test_clean_text_passes_almost_unchanged(canon):
    out = canon.many(CLEAN)
    assert out[0] == CLEAN[0]
    assert "#MAGA" in out[1] and "@USER" in out[1]
    assert out[2] == CLEAN[2]  # versions, ordinals, times
    assert "KKK" in out[3] and "xxx" in out[3]
    assert changed_token_share(CLEAN, out) < 0.1


def test_plain_rtl_text_is_not_reordered(canon):
    hebrew = "שלום עולם"
    assert canon(hebrew) == hebrew
    russian = "привет мир"
    assert canon(russian) == russian  # no skeleton for a text in another script


def test_learned_rules_run_before_the_spelling_step():
    canon = Canonicalizer()
    assert canon("you folo") == "you fool"  # a profanity is among the nearest words
    rules = RuleSet([Rule("dmub", "dumb")])
    assert canon("so dmub", rules) == "so dumb"
    assert canon("so dmub", rules, spell=False) == "so dumb"
    assert canon("so soiety", rules, spell=False) == "so soiety"  # what the rules (and rule mining) read
    # the rule's variant is seen before spelling could turn it into another word
    assert canon("a gret day", RuleSet([Rule("gret", "grit")])) == "a grit day"
    assert canon("a gret day") == "a get day"  # without the rule: the most frequent of the nearest words


def test_spelling_refinements_each_behind_its_own_flag():
    new = Canonicalizer()
    old = Canonicalizer(segment_joined=False, spell_swapped_case=False, spell_negative=False)
    # spell_negative: of the equally near words, the strongly negative one (VADER), not the most frequent
    assert old("the owner is a coard") == "the owner is a board"
    assert new("the owner is a coard") == "the owner is a coward"
    assert new("sahme on you") == "shame on you"
    assert new("sory, my bad") == old("sory, my bad")  # no strongly negative word is that near
    # spell_swapped_case: a capital pushed to second place by a swap is a misspelling, not a name
    assert old("FOREVER. dIiots") == "FOREVER. dIiots"
    assert new("FOREVER. dIiots") == "FOREVER. Idiots"
    assert new("my new iPhone") == "my new iPhone"  # a listed word: nothing to correct
    # segment_joined: letters of several words spaced out are cut back into words
    assert old("o f l i r s") == "oflirs"
    assert new("o f l i r s") == "of liars"
    assert new("y o u a r e a n i d i o t") == "you are an idiot"
    assert new("f u c k you") == "fuck you" and new("I am a b c d") == "I am abcd"
    # a folder saved before them reads as it did
    legacy = Canonicalizer.from_spec({k: v for k, v in new.to_dict().items()
                                      if k not in ("segment_joined", "spell_swapped_case", "spell_negative")})
    assert legacy.flags == old.flags


@pytest.mark.parametrize(("attacked", "expected"), [
    # phonetic: a non-word that sounds like an explicit or strongly negative word (Metaphone and NYSIIS)
    ("phuk you", "fuck you"),
    ("stoopid idiotz", "stupid idiots"),  # spelling alone reads "stooped" (one edit)
    ("what a kunt", "what a cunt"),
    ("biatch please", "bitch please"),
    ("you are a loozer", "you are a loser"),
    ("so $t00p1d", "so stupid"),  # leet that spells no known word: a letter reading sounds like one
    ("WHAT A BIATCH", "WHAT A BITCH"),
    # ... but not typos of a nearer known word, names, acronyms or sound-alikes with another spelling
    ("somone told me", "somone told me"),  # one edit from "someone": "semen" (same codes) is three away
    ("Phuk you", "Fuck you"),  # capitalised: read when better_profanity lists the variant ...
    ("Stoopid woman", "Stoopid woman"),  # ... else left alone like a name wordfreq lists (a known gap)
    ("nedia coverage", "media coverage"),  # one edit from "media": spelling reads it, not "nude"
    ("come play with grop", "come play with group"),
    ("Archbishop Vigano and Corsi", "Archbishop Vigano and Corsi"),
    ("RINO! HIM@", "RINO! HIM@"),
    ("on the 10th and 100th", "on the 10th and 100th"),  # ordinals are no leet (not "loathe")
    ("kam is here", "kam is here"),  # three letters: one edit at most (not "cum")
    # split_merged: a non-word glued from known words, one of them explicit or strongly negative
    ("youidiot", "you idiot"),
    ("STUPIDPEOPLE everywhere", "STUPID PEOPLE everywhere"),
    ("just fuckoff", "just fuck off"),
    ("ashole", "asshole"),  # a misspelling of an insult is read as one word, not "as hole"
    ("Unfortunatemy", "Unfortunately"),  # one edit from a known word: a typo, not two words
    ("facepalming at Truthfeed", "facepalming at Truthfeed"),  # compounds and names stay whole
    # merge_harmful: two listed pieces rejoined when the join is an insult and one piece is a fragment
    ("talks sh it on", "talks shit on"),
    ("biting me in the as s", "biting me in the ass"),
    ("LIA R!!!", "LIAR!!!"),
    ("my pen is blue", "my pen is blue"),  # two words: no fragment
])
def test_sound_and_glued_words(canon, attacked, expected):
    assert canon(attacked) == expected


def test_sound_and_glued_steps_each_behind_its_own_flag():
    new = Canonicalizer()
    old = Canonicalizer(split_merged=False, phonetic=False, merge_harmful=False)
    assert old("youidiot") == "youidiot" and Canonicalizer(phonetic=False)("youidiot") == "you idiot"
    assert old("phuck") == "chuck" and Canonicalizer(split_merged=False)("phuck") == "fuck"  # spelling: one edit
    assert old("$t00p1d") == "$t00p1d" and new("$t00p1d") == "stupid"
    old_merge = Canonicalizer(merge_harmful=False)
    assert old_merge("sh it") == "sh it" and new("sh it") == "shit"
    assert Canonicalizer(merge_fragments=False)("sh it") == "sh it"  # a refinement: nothing without its step
    # spell=False (what rule mining reads) stops before the phonetic step, as before the spelling steps
    assert new("phuk", spell=False) == "phuk" and new("$t00p1d", spell=False) == "$t00p1d"
    # a folder saved before them reads as it did
    legacy = Canonicalizer.from_spec({k: v for k, v in new.to_dict().items()
                                      if k not in ("split_merged", "phonetic", "merge_harmful")})
    assert legacy.flags == old.flags


@pytest.mark.parametrize("attacked, expected", [
    # spell_pieces: letters carrying an apostrophe clitic or run into the next word by dots
    ("A hwore's book", "A whore's book"),
    ("Trmup’s lies", "Trump’s lies"),
    ("other religoins.....but then", "other religions.....but then"),
    ("loesrs...see", "losers...see"),
    ("didn't couldn't wouldnt", "didn't couldn't wouldnt"),  # n't keeps a word whole
    ("@hwore's #hwore's https://x.co/hwore's", "@hwore's #hwore's https://x.co/hwore's"),
    ("hwore's...see whor3's...see", "whore's...see whore's...see"),  # a clitic before a run of dots
    # deobfuscate_pieces: leet and masks before a clitic or a run of dots
    ("A whor3's book", "A whore's book"),
    ("wh*re's", "whore's"),
    ("l0sers...see", "losers...see"),
    # leet_at: an @ token that spells an explicit word in leet; other @ tokens stay mentions
    ("kiss my @ss!", "kiss my ass!"),
    ("@user @re you ok", "@user @re you ok"),
    ("@Nal thanks, see you @nal: hi", "@Nal thanks, see you @nal: hi"),  # handles, a reply
    # join_edges: spaced letters with edge punctuation; three of them when they spell an insult
    ("you are a l i a r.", "you are a liar."),
    ("S h i t... happens", "Shit... happens"),
    ("(i l l e g a l l y).", "(illegally)."),
    ("kiss my a s s", "kiss my ass"),
    ("i m a fan of c a t s", "i m a fan of cats"),  # three letters that spell no insult stay
    ("l i a r#", "l i a r#"),  # a trailing symbol is no edge punctuation (leet or mask, not read here)
    # phonetic_listed: a rare variant better_profanity lists, read as the common word it sounds like
    ("busted as fuk", "busted as fuck"),
    ("Fuk you", "Fuck you"),
    ("smut and sleaze", "smut and sleaze"),  # listed, but no common explicit word sounds like them
    ("the seamen, a sadist, the teat", "the seamen, a sadist, the teat"),  # listed words, no far commoner insult
    ("dum idea", "dum idea"),  # not listed: a word of its own
])
def test_edges_pieces_and_listed_variants(canon, attacked, expected):
    assert canon(attacked) == expected


NEW_REFINEMENTS = ("spell_pieces", "phonetic_listed", "join_edges", "deobfuscate_pieces", "leet_at")


def test_edges_pieces_and_listed_variants_each_behind_its_own_flag():
    new = Canonicalizer()
    assert Canonicalizer(spell_pieces=False)("hwore's") == "hwore's" and new("hwore's") == "whore's"
    assert Canonicalizer(deobfuscate_pieces=False)("whor3's") == "whor3's" and new("whor3's") == "whore's"
    assert Canonicalizer(leet_at=False)("my @ss") == "my @ss" and new("my @ss") == "my ass"
    assert Canonicalizer(join_edges=False)("a l i a r.") == "alia r." and new("a l i a r.") == "a liar."
    assert Canonicalizer(join_edges=False)("a s s") == "a s s" and new("a s s") == "ass"
    assert Canonicalizer(deobfuscate=False)("my @ss") == "my @ss"
    assert Canonicalizer(join_separated=False)("a s s") == "a s s"
    assert Canonicalizer(phonetic_listed=False)("fuk") == "fuk" and new("fuk") == "fuck"
    assert Canonicalizer(spell=False)("hwore's") == "hwore's"  # refinements: nothing without their step
    assert Canonicalizer(phonetic=False)("fuk") == "fuk"
    assert new("fuk", spell=False) == "fuk"  # rule mining reads before the phonetic and spelling steps
    legacy = Canonicalizer.from_spec({k: v for k, v in new.to_dict().items()
                                      if k not in NEW_REFINEMENTS})
    assert not any(legacy.flags[k] for k in NEW_REFINEMENTS) and legacy.flags["spell"] and legacy.flags["deobfuscate"]


@pytest.mark.parametrize(("attacked", "expected"), [
    # leet_spell: leet whose letters misspell a word (phonetic suffixes, typos) or drop its vowels
    ("Id1otz", "Idiots"),  # capitalised leet, -z for -s
    ("they are des7royin our lives", "they are destroying our lives"),  # -in for -ing
    ("a $ickenin issue", "a sickening issue"),
    ("not like that 5ht...", "not like that shit..."),  # devowelled
    ("We heard it all before. Kow@rd.", "We heard it all before. Coward."),
    ("a d3spikable person", "a despicable person"),
    ("Stoop1d woman", "Stupid woman"),  # capitalised leet read by sound
    # numbers, mentions and numbers glued to words stay
    (".@USER said it", ".@USER said it"),
    ("any1 can go, 4ever and 2destroy", "any1 can go, 4ever and 2destroy"),
    ("11yrs of COVID19 and gr8 b4", "11yrs of COVID19 and gr8 b4"),
    # deobfuscate_listed: leet and masks spelling a rarer word wordfreq lists
    ("even ug1ier, even ugl*er", "even uglier, even uglier"),
    ("a bunch of Antifa p*nks and punk5", "a bunch of Antifa punks and punks"),
    ("the owner is a sat@nist", "the owner is a satanist"),
    ("dumba$$es", "dumbasses"),
    # a mask at either end is emphasis, and a number stays a number
    ("*once* more, said Milo*", "*once* more, said Milo*"),
    ("the AR15 is", "the AR15 is"),
])
def test_leet_read_through_spelling_and_rarer_words(canon, attacked, expected):
    assert canon(attacked) == expected


def test_leet_spell_and_deobfuscate_listed_each_behind_its_own_flag():
    new = Canonicalizer()
    assert Canonicalizer(leet_spell=False)("Id1otz") == "Id1otz" and new("Id1otz") == "Idiots"
    assert Canonicalizer(deobfuscate_listed=False)("ug1ier") == "ug1ier" and new("ug1ier") == "uglier"
    assert Canonicalizer(phonetic=False)("Id1otz") == "Id1otz"  # refinements: nothing without their step
    assert Canonicalizer(deobfuscate=False)("p*nks") == "p*nks"
    assert new("Id1otz", spell=False) == "Id1otz"  # rule mining reads before the phonetic step
    legacy = Canonicalizer.from_spec({k: v for k, v in new.to_dict().items()
                                      if k not in ("leet_spell", "deobfuscate_listed")})
    assert not legacy.flags["leet_spell"] and not legacy.flags["deobfuscate_listed"] and legacy.flags["phonetic"]
    assert legacy("Id1otz") == "Id1otz" and legacy("ug1ier") == "ug1ier"


def test_segment_letters_reads_the_likeliest_words():
    from arena.defend.canonical import segment_letters

    assert segment_letters("thisisit") == "this is it"
    assert segment_letters("isabatant") == "is a batant"  # a misspelt piece is read by the spelling step later
    assert segment_letters("idiot") == "idiot" and segment_letters("abcd") == "abcd"
    assert segment_letters("hllfuckn") == "hllfuckn"  # no reading covers it: stays whole, as before


def test_saved_spec_round_trip_and_legacy_folders():
    c = Canonicalizer(emoji=False)
    again = Canonicalizer.from_spec(json.loads(json.dumps(c.to_dict())))
    assert again.flags == c.flags
    legacy = Canonicalizer.from_spec({"enabled": True, "nfkc": True, "strip_invisible": True, "skeleton": True})
    assert [k for k in STEPS if legacy.flags[k]] == ["strip_invisible", "nfkc", "skeleton"]
    assert Canonicalizer.from_spec(None) is None
    from arena.errors import ModelError

    with pytest.raises(ModelError, match="unknown steps"):
        Canonicalizer.from_spec({"enabled": True, "spellcheck": True})


def test_candidate_pairs_keep_obfuscations_not_paraphrases():
    assert candidate_pairs("you are an iddiot", "you are an idiot") == [("iddiot", "idiot")]
    assert candidate_pairs("you are an idi ot", "you are an idiot") == [("idi ot", "idiot")]
    assert candidate_pairs("you are a person", "you are a fool") == []  # paraphrase
    assert candidate_pairs("shut up", "shit up") == []  # a real word is never a variant


def test_rare_word_rules_read_typos_that_spell_no_dictionary_word():
    # "shi" and "sas" are common in wordfreq's counts (names, abbreviations) but in no spelling dictionary
    pairs = [("what a load of shi", "what a load of shit"), ("kick his sas", "kick his ass")]
    for attacked, original in pairs:
        assert candidate_pairs(attacked, original) == []  # off: a token wordfreq rates common is a word
    assert [candidate_pairs(a, o, rare_words=True) for a, o in pairs] == [[("shi", "shit")], [("sas", "ass")]]
    # a dictionary word is never a variant ("sit", "as"), nor a rare word that is no rarer than its target
    assert candidate_pairs("holy sit", "holy shit", rare_words=True) == []
    assert candidate_pairs("ten mins", "ten minds", rare_words=True) == []
    mined = mine_rules([("load of shi", "load of shit", "typos"), ("his sas", "his ass", "typos")],
                       fuzzy=False, rare_words=True)
    assert {(r.variant, r.target) for r in mined} == {("shi", "shit"), ("sas", "ass")}
    # admitted only where no clean text holds the variant (one occurrence is enough to refuse it)
    admitted, report = admit_rules(mined, ["Shi Zhengli said"] + ["a b c d e f g h i j"] * 100, [], None, 0.5)
    assert [r.variant for r in admitted] == ["sas"] and report["clean_rejected"] == 1
    assert RuleSet(admitted)("kick his SAS!") == "kick his ass!"


def test_mine_admit_apply_and_persist(tmp_path):
    evasions = [("you stuipd iddiot", "you stupid idiot", "typos"), ("what an iddiot", "what an idiot", "typos")]
    mined = mine_rules(evasions, rnd=2, fuzzy=False)
    by_variant = {r.variant: r for r in mined}
    assert by_variant["iddiot"].target == "idiot" and by_variant["iddiot"].support == 2
    assert by_variant["iddiot"].round == 2 and by_variant["iddiot"].strategy == "typos"
    # a variant frequent in clean text is refused; one whose rewrite makes a benign text flagged too
    clean = ["stuipd"] * 10 + ["a b c d e f g h i j"] * 100
    admitted, report = admit_rules(mined, clean, [], None, 0.5)
    assert {r.variant for r in admitted} == {"iddiot"} and report["clean_rejected"] == 1
    score = lambda texts: [0.9 if "idiot" in t else 0.1 for t in texts]  # noqa: E731
    admitted, report = admit_rules(mined, ["hello"] * 100, ["my iddiot cat"], score, 0.5)
    assert "iddiot" not in {r.variant for r in admitted} and report["fpr_rejected"] == 1
    rules = RuleSet([Rule("iddiot", "idiot"), Rule("idi ot", "idiot")])
    assert rules("you IDDIOT!") == "you idiot!"
    assert rules("an idi ot, really") == "an idiot, really"
    rules.save(tmp_path)
    assert RuleSet.load(tmp_path).to_dict() == rules.to_dict()
    RuleSet().save(tmp_path)
    assert len(RuleSet.load(tmp_path)) == 0


def test_fuzzy_rules_generalise_a_mined_spelling_edit(tmp_path):
    evasions = [("what an iddiot", "what an idiot", "typos"), ("so stuipd", "so stupid", "typos"),
                ("you $#!t", "you shit", "masking")]
    mined = mine_rules(evasions, rnd=1)
    fuzzy = {r.target: r for r in mined if r.fuzzy}
    assert set(fuzzy) == {"idiot", "stupid"}  # "shit" is under FUZZY_MIN_LEN letters
    assert fuzzy["idiot"].variant == "~idiot" and fuzzy["idiot"].support == 1 and fuzzy["idiot"].round == 1
    rules = RuleSet([Rule.fuzzy_of("idiot"), Rule.fuzzy_of("stupid")])
    # unseen edits of the target: a transposition, a deletion, a doubled letter, two edits at 7+ letters
    assert rules("you IDOIT!") == "you idiot!"
    assert rules("such an idot") == "such an idiot"
    assert rules("so stupiid, #idiiot") == "so stupid, #idiot"
    assert rules("stuupidd") == "stupid"
    # words, short tokens and far variants are left alone (and the text is returned as it was)
    for text in ["an idiom  here", "idiots", "stud", "xyzzy idt", "sturdily"]:
        assert rules(text) == text
    # admission: a fuzzy rule that rewrites clean train tokens is refused, like an exact one
    clean = ["stupd"] * 10 + ["a b c d e f g h i j"] * 100
    admitted, report = admit_rules([Rule.fuzzy_of("idiot"), Rule.fuzzy_of("stupid")], clean, [], None, 0.5)
    assert [r.target for r in admitted] == ["idiot"] and report["clean_rejected"] == 1
    score = lambda texts: [0.9 if "idiot" in t else 0.1 for t in texts]  # noqa: E731
    admitted, report = admit_rules([Rule.fuzzy_of("idiot")], ["hello"] * 100, ["my idoit cat"], score, 0.5)
    assert admitted == [] and report["fpr_rejected"] == 1
    rules.save(tmp_path)
    assert RuleSet.load(tmp_path)("idoit") == "idiot"


def test_unreadable_rules_file_is_a_clear_error(tmp_path):
    from arena.errors import ModelError

    (tmp_path / "rules.json").write_text("{not json")
    with pytest.raises(ModelError, match="rules.json"):
        RuleSet.load(tmp_path)


@pytest.mark.parametrize(("attacked", "expected"), [
    # spaced_runs: a spaced run whose cut is poor and whose whole reads as an insult is joined and kept whole
    ("you fix ya s h t now", "you fix ya shit now"),  # three letters, read without their vowels
    ("f c k i n g hell", "fucking hell"),  # not "fc king"
    ("I don't e-n-t-e-r-t-a-n-i s h t.", "I don't entertain shit."),
    ("a l i a r.", "a liar."),  # a cut word that is an insult itself keeps the cut
    ("i m a fan of c a t s", "i m a fan of cats"),  # three letters that read as no insult stay
    # a cut into common words stays: spelt-out phrases are not read as the insult they sound like
    ("you are an i d o i t", "you are an i do it"),
    ("w e a r e here", "we are here"),
    ("m o r e o n that", "more on that"),
    ("d o m y homework", "do my homework"),
    ("w e p", "w e p"),  # three letters: only as written or without vowels, not by sound (weep)
    # a spaced run's first letter is no stray letter of the word before it
    ("she is u-n-g-r-a-t-e-f-u-u-l b a t and", "she is ungrateful b a t and"),
    ("is sueles s", "is useless"),  # a lone stray letter still joins its word
    ("what a s tupdi idea", "what a stupid idea"),  # two lone letters are no run
    ("you are stupdi d a lot", "you are stupid a lot"),
])
def test_spaced_runs_read_as_a_whole(canon, attacked, expected):
    assert canon(attacked) == expected


def test_spaced_runs_behind_its_own_flag():
    old = Canonicalizer(spaced_runs=False)
    assert old("f c k i n g hell") == "fc king hell"
    assert old("you fix ya s h t now") == "you fix ya s h t now"
    assert old("she is u-n-g-r-a-t-e-f-u-u-l b a t and") == "she is ungrateful a t and"
    assert old("he was d o a") == "he was do a"  # a 3-letter insult is still cut as before
    assert Canonicalizer(join_separated=False, spaced_runs=True)("ya s h t now") == "ya s h t now"
    legacy = Canonicalizer.from_spec({k: v for k, v in Canonicalizer().to_dict().items() if k != "spaced_runs"})
    assert legacy.flags["spaced_runs"] is False and legacy.flags["join_separated"]
