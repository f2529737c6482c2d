package org.fslspark.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The default tokenizer: a token per UTF-8 byte (ids 0..255), plus {@link #END_OF_TEXT} (256),
 * which separates documents when a corpus is cut into sequences and which a text never encodes
 * to. Needs no vocabulary file and round-trips any Unicode text.
 *
 * <p>Decoding skips {@link #END_OF_TEXT}, and byte sequences that are not valid UTF-8 (a model may
 * generate half a multi-byte character) become U+FFFD, as Python's {@code errors='replace'}.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int END_OF_TEXT = 256;

    @Override
    public int[] encode(String text) {
        byte[] bytes = Unicode.utf8(text);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xFF;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        Objects.requireNonNull(ids, "ids");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length);
        for (int i = 0; i < ids.length; i++) {
            Unicode.checkId(ids, i, vocabSize());
            if (ids[i] != END_OF_TEXT) {
                bytes.write(ids[i]);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabSize() {
        return END_OF_TEXT + 1;
    }
}
