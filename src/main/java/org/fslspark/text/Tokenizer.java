package org.fslspark.text;

/**
 * Text to token ids and back, with no downloads: {@link ByteTokenizer} (the default) or a Hugging
 * Face {@code tokenizer.json} the user supplies ({@link HfTokenizer}). Ids are in
 * {@code [0, vocabSize())}, the range of a language model's embedding and head.
 */
public interface Tokenizer {
    /**
     * The ids of {@code text} (none for the empty string). Text that is not valid Unicode (an
     * unpaired surrogate) is refused rather than silently replaced.
     */
    int[] encode(String text);

    /** The text of {@code ids}; an id outside the vocabulary is refused with its value and position. */
    String decode(int[] ids);

    /** Number of ids: every id is in {@code [0, vocabSize())}. */
    int vocabSize();
}
