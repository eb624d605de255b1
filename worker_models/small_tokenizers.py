"""Tiny tokenizers for the small offline checkpoints, built locally and deterministically.

Three families, matching the architectures the small checkpoints use:
- WordPiece (`vocab.txt`) for BLIP's BERT text encoder/decoder;
- CLIP-style byte-level BPE with a `</w>` end-of-word suffix (`vocab.json` + `merges.txt`)
  for CLIP and OWL-ViT;
- GPT-2/OPT-style byte-level BPE (`vocab.json` + `merges.txt`) for BLIP-2's OPT.

Every vocabulary covers all letters, digits and bytes, so any prompt tokenizes without
unknown tokens; common words (the prompts of the reference programs, COCO classes) get
their own tokens so that sequences stay short. The BPE merges are learnt from a fixed
corpus with the `tokenizers` trainer, which is deterministic for a fixed input.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from tokenizers.pre_tokenizers import ByteLevel

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip

# Words of the prompts the programs send (questions, properties, instructions).
PROMPT_WORDS = (
    "a an the of is are in on at to and or not no yes what which who where when how why "
    "many much this that there it its photo picture image color colour model make brand "
    "type kind damaged overturned broken scratched dented crashed burning new old red blue "
    "green yellow black white gray grey silver brown pink purple answer briefly question "
    "describe count number one two three four five six seven eight nine ten litter plastic "
    "bag bottle net rope can trash waste beach sea water sand muffin muffins kid kids child "
    "children eat each share road street accident scene vehicle wheel door window bumper "
    "front back left right side top bottom large small big little person people man woman "
    "do does did have has with without from by for as be been was were near far close "
    "depth distance object objects thing things"
)
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BLIP_DECODER_BOS = "[DEC]"  # BLIP's decoder start token, as in Salesforce/blip-vqa-base
CLIP_BOS, CLIP_EOS = "<|startoftext|>", "<|endoftext|>"
OPT_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # OPT's ids 0..3
CLIP_END_OF_WORD = "</w>"
CLIP_MERGES = 1000
OPT_MERGES = 1000


def corpus_words() -> list[str]:
    """The fixed word list every small vocabulary is built from, in a stable order."""
    words: list[str] = []
    for phrase in (*COCO_CLASSES, *PROMPT_WORDS.split()):
        words.extend(phrase.split())
    return sorted(set(words))


def write_wordpiece_vocab(out_dir: Path) -> Path:
    """BERT-style `vocab.txt`: specials, BLIP's [DEC], characters, continuations, words."""
    chars = string.ascii_lowercase + string.digits
    symbols = [c for c in string.punctuation]
    vocab = [*BERT_SPECIALS, BLIP_DECODER_BOS, *chars, *symbols, *(f"##{c}" for c in chars)]
    vocab += [w for w in corpus_words() if w not in vocab]
    path = out_dir / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return path


def _train_bpe(end_of_word_suffix: str, merges: int, space_prefixed: bool) -> list[tuple[str, str]]:
    """BPE merges learnt over the corpus, byte-level pre-tokenized.

    GPT-2-style vocabularies see words after a space (as `Ġword`), so `space_prefixed`
    trains on both forms.
    """
    tok = Tokenizer(models.BPE(end_of_word_suffix=end_of_word_suffix))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    alphabet = ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) * 2 + merges,
        initial_alphabet=alphabet,
        end_of_word_suffix=end_of_word_suffix,
        show_progress=False,
    )
    words = corpus_words()
    # Frequency shapes the merges: each word repeated by a fixed, position-derived count.
    forms = [(w, " " + w) if space_prefixed else (w,) for w in words]
    corpus = [f for i, fs in enumerate(forms) for f in fs for _ in range(1 + i % 3)]
    tok.train_from_iterator(corpus, trainer=trainer)
    saved = json.loads(tok.to_str())["model"]["merges"]
    pairs = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in saved]
    return [(a, b) for a, b in pairs][:merges]


def _write_bpe(out_dir: Path, vocab: list[str], merges: list[tuple[str, str]]) -> None:
    index = {tok: i for i, tok in enumerate(dict.fromkeys(vocab))}
    (out_dir / "vocab.json").write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (out_dir / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_clip_bpe(out_dir: Path) -> int:
    """CLIP's layout: 256 bytes, the same with `</w>`, merge results, then BOS/EOS last.

    EOS must hold the highest id: CLIP pools the text at the argmax token id when the
    config uses the legacy EOS id. Returns the vocabulary size.
    """
    alphabet = sorted(ByteLevel.alphabet())
    merges = _train_bpe(CLIP_END_OF_WORD, CLIP_MERGES, space_prefixed=False)
    vocab = [*alphabet, *(c + CLIP_END_OF_WORD for c in alphabet), *(a + b for a, b in merges)]
    vocab = list(dict.fromkeys(vocab)) + [CLIP_BOS, CLIP_EOS]
    _write_bpe(out_dir, vocab, merges)
    return len(vocab)


def write_opt_bpe(out_dir: Path) -> int:
    """OPT's layout: four specials first, then the bytes and merges. Returns the size."""
    alphabet = sorted(ByteLevel.alphabet())
    merges = _train_bpe("", OPT_MERGES, space_prefixed=True)
    vocab = list(dict.fromkeys([*OPT_SPECIALS, *alphabet, *(a + b for a, b in merges)]))
    _write_bpe(out_dir, vocab, merges)
    return len(vocab)
