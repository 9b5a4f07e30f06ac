"""What the Tang poets themselves score under the prosody ruler (ruler.py), per regulated form: the share
of their poems of that shape that rhyme and that follow the tone rules. Measured with `rnnlab prosody
tang --json` and `rnnlab prosody tang --prosody modern --json` over the complete Tang poems
(chinese-poetry 2.0.1, 57,607 poems); tests/generate/test_ruler.py measures them again from the corpus.
`rnnlab eval-gen` prints them beside a model's own figures."""

# prosody -> form -> (rhyme, tones)
POETS = {
    "classical": {"wujue": (0.9392, 0.6752), "qijue": (0.9784, 0.8696), "wulv": (0.9595, 0.8039),
                  "qilv": (0.9478, 0.8514)},
    "modern": {"wujue": (0.7690, 0.2064), "qijue": (0.8124, 0.2008), "wulv": (0.6554, 0.0669),
               "qilv": (0.6679, 0.0389)},
}


def poets_rates(form, prosody="classical"):
    """{"rhyme", "tones"} of the poets for a regulated form, or None for free verse."""
    rates = POETS[prosody].get(form)
    return None if rates is None else dict(zip(("rhyme", "tones"), rates))
