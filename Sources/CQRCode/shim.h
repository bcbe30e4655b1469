// libqrencode (the QR symbol) and libpng's simplified write API (the PNG file), for the QRCode
// module. Debian 12: libqrencode-dev, libpng-dev.
#ifndef MEDTUNNEL_CQRCODE_SHIM_H
#define MEDTUNNEL_CQRCODE_SHIM_H

#include <png.h>
#include <qrencode.h>
#include <string.h>

/// Encodes `width` x `height` 8-bit grey pixels (rows packed) as a PNG into `out`, whose
/// capacity is `*size`; on return `*size` is the PNG's length (or the length needed, when
/// `out` is NULL or too small). 1 on success. The simplified API reports errors by return
/// value, so no setjmp/longjmp crosses into Swift.
static inline int medtunnel_png_write_gray(
    const unsigned char *pixels, unsigned width, unsigned height, void *out, size_t *size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = PNG_FORMAT_GRAY;
    png_alloc_size_t bytes = *size;
    int ok = png_image_write_to_memory(&image, out, &bytes, 0, pixels, 0, NULL);
    *size = (size_t)bytes;
    png_image_free(&image);
    return ok;
}

#endif
