"""One declaration of the generation options: the library, the command line and the web API offer
the same ones, with the same defaults, and the CLI writes what the library writes."""
import json
from dataclasses import fields

import pytest
import torch

from rnnlab.checkpoint import load_checkpoint
from rnnlab.cli import main
from rnnlab.cli.args import build_parser
from rnnlab.data.vocab import Vocab
from rnnlab.errors import RnnlabError
from rnnlab.generate.options import GenerationOptions
from rnnlab.generate.sampling import generate
from rnnlab.nn.configs import ModelConfig
from rnnlab.nn.lm import LanguageModel
from rnnlab.web.schema import GenerateRequest

NAMES = [f.name for f in fields(GenerationOptions)]


def test_every_option_is_a_flag_of_generate_and_eval_gen_and_a_field_of_the_request():
    for command in ("generate", "eval-gen"):
        args = build_parser().parse_args([command, "--checkpoint", "x"])
        assert set(NAMES) <= set(vars(args)), command
    assert set(GenerateRequest.model_fields) == set(NAMES) | {"model"}
    request = GenerateRequest().options()
    assert request == {f.name: f.default for f in fields(GenerationOptions)}


def test_length_penalty_reaches_beam_search_from_the_cli(capsys, tiny_run):
    ckpt = load_checkpoint(tiny_run.run_dir)
    argv = ["generate", "--checkpoint", str(tiny_run.run_dir), "--strategy", "beam", "--beam-size", "3", "--num", "3",
            "--max-len", "12", "--length-penalty", "2.5", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["poems"] == ckpt.generate(strategy="beam", beam_size=3, num=3, max_len=12,
                                                                          seed=0, length_penalty=2.5)


def test_a_higher_length_penalty_favours_longer_poems():
    """Every token has the same probability and <eos> is likely: the sum of log p prefers the shortest poem,
    the sum divided by length^2 the longest."""
    vocab = Vocab.build(["春花秋月"], min_count=1)
    torch.manual_seed(0)
    m = LanguageModel(ModelConfig(vocab_size=len(vocab), embed_size=4, hidden_size=4))
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.decoder.bias[vocab.eos] = 1.0
    lengths = {lp: [len(p) for p in generate(m, vocab, strategy="beam", beam_size=4, num=4, max_len=6, length_penalty=lp)]
               for lp in (0.0, 2.0)}
    assert min(lengths[0.0]) == 0 and lengths[0.0][0] == 0
    assert lengths[2.0][0] > lengths[0.0][0]


@pytest.mark.parametrize("kwargs, field", [(dict(length_penalty=-1), "length_penalty"), (dict(max_len=0), "max_len"),
                                           (dict(seed=-1), "seed"), (dict(form="sonnet"), "form")])
def test_checks_name_the_field(kwargs, field):
    with pytest.raises(RnnlabError) as e:
        GenerationOptions(**kwargs).check()
    assert e.value.field == field
