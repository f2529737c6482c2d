package org.fslspark.text;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/** Strict UTF-8 for the tokenizers: {@code String.getBytes} would turn an unpaired surrogate into '?' silently. */
final class Unicode {
    private Unicode() {
    }

    /** The UTF-8 bytes of {@code text}; refuses text that is not valid Unicode, naming the position. */
    static byte[] utf8(String text) {
        Objects.requireNonNull(text, "text");
        CharsetEncoder encoder = StandardCharsets.UTF_8.newEncoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            ByteBuffer b = encoder.encode(CharBuffer.wrap(text));
            return Arrays.copyOf(b.array(), b.limit());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("text is not valid Unicode: unpaired surrogate at index " + firstUnpaired(text));
        }
    }

    private static int firstUnpaired(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    /** Refuses an id outside [0, vocabSize), naming it and its position. */
    static void checkId(int[] ids, int i, int vocabSize) {
        if (ids[i] < 0 || ids[i] >= vocabSize) {
            throw new IllegalArgumentException("unknown token id " + ids[i] + " at position " + i
                    + " (the vocabulary has ids 0.." + (vocabSize - 1) + ")");
        }
    }
}
