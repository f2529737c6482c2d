package org.fslspark.sweep;

import picocli.CommandLine;

/**
 * The seeds a sweep runs for every grid point: {@code first..last}. {@code N} means 1..N; {@code A..B} lets several
 * processes or machines share one sweep's seeds (each writes its own runs, and a sweep over 1..B on the merged output
 * reuses them all and summarises every seed).
 */
public record Seeds(int first, int last) {
    public Seeds {
        if (first < 1 || last < first) {
            throw new IllegalArgumentException("seeds must be N (1..N) or A..B with 1 <= A <= B, got " + first + ".." + last);
        }
    }

    public static Seeds upTo(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("--seeds must be at least 1, got " + n);
        }
        return new Seeds(1, n);
    }

    /** {@code N} or {@code A..B}. */
    public static Seeds parse(String text) {
        String t = text.trim();
        int dots = t.indexOf("..");
        try {
            return dots < 0 ? upTo(Integer.parseInt(t))
                    : new Seeds(Integer.parseInt(t.substring(0, dots).trim()), Integer.parseInt(t.substring(dots + 2).trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seeds must be N (1..N) or A..B, got '" + text + "'");
        }
    }

    public int count() {
        return last - first + 1;
    }

    @Override
    public String toString() {
        return first == last ? "seed " + first : "seeds " + first + ".." + last;
    }

    /** For picocli options: {@code --seeds 3} or {@code --seeds 2..3}. */
    public static final class Converter implements CommandLine.ITypeConverter<Seeds> {
        @Override
        public Seeds convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
