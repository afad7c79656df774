"""Writes a tiny word-level Hugging Face tokenizer to DIR, for AIPerf's token counting:
its default tokenizers come from the network (the hub, or tiktoken's download), which this
machine cannot reach. Token counts do not matter here; only send times do.

    python tokenizer.py DIR"""

import string
import sys

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

vocab = {"[UNK]": 0}
for w in string.ascii_letters + string.digits + string.punctuation:
    vocab.setdefault(w, len(vocab))
tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(sys.argv[1])
