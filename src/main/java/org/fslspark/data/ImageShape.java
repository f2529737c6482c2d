package org.fslspark.data;

import java.io.Serializable;

/** The shape of one image: channels, height, width. */
public record ImageShape(int channels, int height, int width) implements Serializable {
    public ImageShape {
        if (channels < 1 || height < 1 || width < 1) {
            throw new DataException("image shape must be positive, got [" + channels + ", " + height + ", " + width + "]");
        }
    }

    public int bytes() {
        return channels * height * width;
    }

    @Override
    public String toString() {
        return "[" + channels + ", " + height + ", " + width + "]";
    }
}
