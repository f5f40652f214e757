"""The ESPLADE masked-LM: WordPiece inputs, an MLM head over an expanded output vocabulary.

ESPLADE (Expanded-SPLADE) keeps BERT's WordPiece input side but predicts whole-word
unigrams: the head maps each hidden state to ``output_vocab_size`` logits, one per line of
the checkpoint's ``output_vocab.txt``. The head is *not* tied to the input embeddings (the
two vocabularies differ).

Importing this module registers ``model_type="esplade"`` with ``AutoConfig`` and
``AutoModelForMaskedLM``, so a saved folder loads like any Hugging Face checkpoint:

>>> import esplade_eval.model.esplade as E
>>> cfg = E.EspladeConfig(vocab_size=100, output_vocab_size=50, hidden_size=16, num_hidden_layers=1,
...                       num_attention_heads=2, intermediate_size=32)
>>> model = E.EspladeForMaskedLM(cfg)
>>> tuple(model.get_output_embeddings().weight.shape)
(50, 16)
>>> import torch
>>> model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape
torch.Size([1, 3, 50])
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForMaskedLM, BertConfig, BertModel, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import MaskedLMOutput


class EspladeConfig(BertConfig):
    """A BERT configuration plus ``output_vocab_size`` (the MLM head's output dimension).

    ``vocab_size`` is the WordPiece input vocabulary; ``output_vocab_size`` the number of
    whole-word output terms. Input and output embeddings are never tied.
    """

    model_type = "esplade"

    def __init__(self, output_vocab_size: int = 30522, **kwargs):
        kwargs["tie_word_embeddings"] = False
        super().__init__(**kwargs)
        self.output_vocab_size = output_vocab_size


class EspladeMLMHead(nn.Module):
    """BERT's prediction head (dense, activation, LayerNorm) then ``Linear(H, output_vocab_size)``."""

    def __init__(self, config: EspladeConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act] if isinstance(config.hidden_act, str) else config.hidden_act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.output_vocab_size, bias=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.act(self.dense(hidden_states))))


class EspladePreTrainedModel(PreTrainedModel):
    config_class = EspladeConfig
    config: EspladeConfig
    base_model_prefix = "bert"
    _supports_sdpa = True

    def _init_weights(self, module):
        # Bert-style init: N(0, initializer_range) weights, zero biases, unit LayerNorm;
        # the generic PreTrainedModel init does the same for Linear/Embedding/LayerNorm.
        super()._init_weights(module)
        from transformers.models.bert.modeling_bert import BertEmbeddings

        if isinstance(module, BertEmbeddings):
            with torch.no_grad():
                module.position_ids.copy_(torch.arange(module.position_ids.shape[-1]).expand((1, -1)))
                module.token_type_ids.zero_()


class EspladeForMaskedLM(EspladePreTrainedModel):
    """BERT encoder (``model.bert`` = ``model.base_model``) + untied ``model.mlm_head``."""

    def __init__(self, config: EspladeConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.mlm_head = EspladeMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.mlm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.mlm_head.decoder = new_embeddings

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None, labels=None, **kwargs) -> MaskedLMOutput:
        """``labels``: ``(batch, length)`` output-vocabulary ids, ``-100`` where no loss is taken."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           position_ids=position_ids, inputs_embeds=inputs_embeds, return_dict=True)[0]
        logits = self.mlm_head(hidden)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits)


def _register() -> None:
    try:
        AutoConfig.register("esplade", EspladeConfig)
    except ValueError:  # already registered (module reloaded)
        pass
    try:
        AutoModelForMaskedLM.register(EspladeConfig, EspladeForMaskedLM)
    except ValueError:
        pass


_register()
