package org.fslspark.text;

import java.nio.file.Path;

/** The tokenizer a config names: {@code byte} (the default) or the path of a Hugging Face {@code tokenizer.json}. */
public final class Tokenizers {
    /** The name of the byte-level tokenizer. */
    public static final String BYTE = "byte";

    private Tokenizers() {
    }

    /**
     * The tokenizer named {@code name}.
     *
     * @throws IllegalArgumentException naming the file when a tokenizer.json is missing or invalid
     */
    public static Tokenizer named(String name) {
        if (name == null || name.isBlank() || name.trim().equals(BYTE)) {
            return new ByteTokenizer();
        }
        String p = name.trim();
        return HfTokenizer.load(Path.of(p.startsWith("file:") ? java.net.URI.create(p).getPath() : p));
    }

    /** The id that ends a document in a token stream, or -1 when the tokenizer has none. */
    public static int endOfText(Tokenizer t) {
        return t instanceof ByteTokenizer ? ByteTokenizer.END_OF_TEXT : -1;
    }
}
